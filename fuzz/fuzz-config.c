/* fuzz-config.c: a model's config.json through vtp's JSON reader (nesting
 * bounded), then every config parser on its root: the family dispatch of
 * vtp_model_parts_read (llava, blip-2, instructblip, llama, opt, t5, CLIP,
 * adapter),
 * each family parser directly, and the image-processor reader. */
#include <string.h>
#include "fuzz-target.h"
#include "fuzz-checkpoint.h"
#include "vtp-json.h"
#include "vtp-config.h"
#include "vtp-parts.h"

static void
parse_all (JsonObject *o)
{
  VtpLlavaConfig llava;
  VtpBlipConfig blip;
  VtpLlamaConfig llama;
  VtpOptConfig opt;
  VtpT5Config t5;
  VtpVisionConfig vision;
  VtpAdapterConfig adapter;
  VtpImageConfig image;

  /* each parser on its own: a config.json may be fed to any of them
   * (vtp-run names the family only by model_type) */
  vtp_llava_config_parse (o, "fuzz", &llava, NULL);
  vtp_blip_config_parse (o, "fuzz", FALSE, &blip, NULL);
  vtp_blip_config_parse (o, "fuzz", TRUE, &blip, NULL);
  vtp_llama_config_parse (o, "fuzz", &llama, NULL);
  vtp_opt_config_parse (o, "fuzz", &opt, NULL);
  vtp_t5_config_parse (o, "fuzz", &t5, NULL);
  vtp_clip_vision_config_parse (o, "fuzz", &vision, NULL);
  vtp_blip_vision_config_parse (o, "fuzz", &vision, NULL);
  vtp_openai_clip_config_parse (o, "fuzz", &vision, NULL);
  vtp_adapter_config_parse (o, "fuzz", &adapter, NULL);
  vtp_image_config_clip_default (&image, 336);
  if (vtp_image_config_parse (o, "fuzz", &image, NULL)) {
    gint w, h;
    vtp_image_config_output_size (&image, 640, 480, &w, &h);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  JsonParser *parser = json_parser_new ();
  VtpCheckpoint *c;
  VtpModelParts parts;

  if (!vtp_json_parser_load (parser, (const char *) data, size, &error)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_object_unref (parser);
    return 0;
  }
  parse_all (json_node_get_object (json_parser_get_root (parser)));

  /* the checkpoint owns the parser from here */
  c = fuzz_checkpoint_new ();
  c->config_parser = parser;
  c->config = json_node_get_object (json_parser_get_root (parser));
  vtp_model_parts_read (c, &parts, &error);
  g_clear_error (&error);
  vtp_model_parts_clear (&parts);
  vtp_checkpoint_unref (c);
  return 0;
}
