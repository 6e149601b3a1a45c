/* graph-app: an application that composes its own graph (with json-glib,
 * no string pasting of user values) and prints each description with its
 * timestamp.
 *
 *   graph-app MODEL INPUT [PROMPT]
 *
 * MODEL: a LLaVA-layout checkpoint directory; INPUT: as vtp-run's --input
 * (an image, a directory, a video file, testsrc[:FRAMES], live:testsrc).
 *
 * Built by meson as build/examples/graph-app; against an installed vtp
 * (meson install), with its pkg-config file:
 *
 *   cc -o graph-app graph-app.c $(pkg-config --cflags --libs vtp-graph gstreamer-1.0 json-glib-1.0)
 *
 * (tests/test-install.py does this in a DESTDIR.) */
#include <stdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include "vtp-graph.h"

/* One element: name, factory and string properties (NULL-terminated pairs). */
static void
add_element (JsonBuilder *b, const char *name, const char *factory, const char *const *props)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "factory");
  json_builder_add_string_value (b, factory);
  json_builder_set_member_name (b, "properties");
  json_builder_begin_object (b);
  for (guint i = 0; props[i]; i += 2) {
    json_builder_set_member_name (b, props[i]);
    json_builder_add_string_value (b, props[i + 1]);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
}

static void
add_link (JsonBuilder *b, const char *from, const char *to)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "from");
  json_builder_add_string_value (b, from);
  json_builder_set_member_name (b, "to");
  json_builder_add_string_value (b, to);
  json_builder_end_object (b);
}

/* encoder -> projector -> llm, the model and prompt as parameters; every
 * half second of video described, short answers. */
static char *
compose_graph (void)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  const char *enc[] = { "model", "${model}", "min-interval", "500000000", NULL };
  const char *proj[] = { "model", "${model}", NULL };
  const char *llm[] = { "model", "${model}", "prompt", "${prompt}", "max-new-tokens", "24", NULL };

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vtp-graph");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, "graph-app");
  json_builder_set_member_name (b, "parameters");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "path");
  json_builder_set_member_name (b, "required");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "prompt");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "string");
  json_builder_set_member_name (b, "default");
  json_builder_add_string_value (b, "What is in the picture?");
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "elements");
  json_builder_begin_array (b);
  add_element (b, "encoder", "vtpencoder", enc);
  add_element (b, "projector", "vtpprojector", proj);
  add_element (b, "llm", "vtpllm", llm);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "links");
  json_builder_begin_array (b);
  add_link (b, "encoder", "projector");
  add_link (b, "projector", "llm");
  json_builder_end_array (b);
  json_builder_set_member_name (b, "input");
  json_builder_add_string_value (b, "encoder");
  json_builder_set_member_name (b, "output");
  json_builder_add_string_value (b, "llm");
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static void
on_text (VtpGraph *g, const char *source, const char *text, guint64 pts, guint64 duration, double latency_ms,
    gpointer data)
{
  printf ("%" GST_TIME_FORMAT " %s (%.0f ms)\n", GST_TIME_ARGS (pts), text, latency_ms);
  fflush (stdout);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr (VtpGraph) g = NULL;

  gst_init (&argc, &argv);
  if (argc < 3) {
    fprintf (stderr, "usage: graph-app MODEL INPUT [PROMPT]\n");
    return 2;
  }
  json = compose_graph ();
  if (!(g = vtp_graph_new_from_data (json, "graph-app", &error))
      || !vtp_graph_set_parameter (g, "model", argv[1], &error)
      || (argc > 3 && !vtp_graph_set_parameter (g, "prompt", argv[3], &error))) {
    fprintf (stderr, "graph-app: %s\n", error->message);
    return 2;
  }
  g_signal_connect (g, "text", G_CALLBACK (on_text), NULL);
  if (!vtp_graph_run (g, argv[2], &error)) {
    fprintf (stderr, "graph-app: %s\n", error->message);
    return 1;
  }
  return 0;
}
