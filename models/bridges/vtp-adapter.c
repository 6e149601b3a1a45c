/* vtp-adapter.c: LLaMA-Adapter V2's visual queries (see vtp-adapter.h). */
#include "vtp-adapter.h"
#include "vtp-model-cache.h"
#include "vtp-ops.h"

/* LLaMA-Adapter's LayerNorms (clip_proj_norm, visual_proj_norm, the timm
 * blocks') are torch's defaults. */
#define ADAPTER_LN_EPS 1e-5f

VtpAdapter *
vtp_adapter_load (VtpCheckpoint *c, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  g_autoptr (VtpAdapter) a = g_new0 (VtpAdapter, 1);
  VtpLoader l = { c, dev, wtype, "", error, FALSE };
  const VtpAdapterConfig *ac = &a->cfg;
  const VtpStTensor *aq;
  gint64 C, V, P;

  a->dev = vtp_device_ref (dev);
  if (!vtp_adapter_config_parse (c->config, c->dir, &a->cfg, error))
    return NULL;
  if (ac->form != VTP_ADAPTER_V2_MULTIMODAL) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s is a text-only adapter (%s): it has no visual part for "
        "vtpadapter; give it to vtpllm's adapter property alone", c->dir,
        ac->form == VTP_ADAPTER_V1 ? "LLaMA-Adapter V1" : "PEFT adaption prompt");
    return NULL;
  }
  /* the LLM width: llm_dim, else adapter_query's */
  if (!(aq = vtp_checkpoint_find (c, "adapter_query.weight")) || aq->ndim != 2) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s has no 2-D tensor 'adapter_query.weight'", c->dir);
    return NULL;
  }
  a->llm_dim = ac->llm_dim ? ac->llm_dim : (gint) aq->shape[1];
  C = ac->clip_dim;
  V = ac->v_embed_dim;
  P = a->llm_dim;
  a->blocks_cfg.flavor = VTP_VISION_TIMM;
  a->blocks_cfg.hidden_size = V;
  a->blocks_cfg.intermediate_size = ac->v_mlp;
  a->blocks_cfg.num_attention_heads = ac->v_num_heads;
  a->blocks_cfg.num_hidden_layers = ac->v_depth;
  a->blocks_cfg.layer_norm_eps = ADAPTER_LN_EPS;
  a->blocks_cfg.hidden_act = VTP_ACT_GELU;

  a->clip_proj_w = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (V, C), "clip_proj.weight");
  a->clip_proj_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (V), "clip_proj.bias");
  a->clip_norm_w = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (V), "clip_proj_norm.weight");
  a->clip_norm_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (V), "clip_proj_norm.bias");
  a->visual_query = vtp_loader_get (&l, VTP_LOAD_F32, VTP_MAT (ac->query_len, V), "visual_query.weight");
  a->visual_proj_w = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (P, V), "visual_proj.weight");
  a->visual_proj_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (P), "visual_proj.bias");
  a->visual_norm_w = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (P), "visual_proj_norm.weight");
  a->visual_norm_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (P), "visual_proj_norm.bias");
  a->adapter_query = vtp_loader_get (&l, VTP_LOAD_F32, VTP_MAT ((gint64) ac->query_layer * ac->query_len, P),
      "adapter_query.weight");
  a->blocks = g_new0 (VtpVisionLayer, ac->v_depth);
  l.prefix = "visual_blocks.";
  for (gint i = 0; i < ac->v_depth && !l.failed; i++)
    vtp_vision_layer_load (&l, &a->blocks_cfg, i, &a->blocks[i]);
  return l.failed ? NULL : g_steal_pointer (&a);
}

void
vtp_adapter_free (VtpAdapter *a)
{
  VtpTensor *ts[] = { a->clip_proj_w, a->clip_proj_b, a->clip_norm_w, a->clip_norm_b, a->visual_query,
    a->visual_proj_w, a->visual_proj_b, a->visual_norm_w, a->visual_norm_b, a->adapter_query };

  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vtp_tensor_free (ts[i]);
  for (gint i = 0; a->blocks && i < a->cfg.v_depth; i++)
    vtp_vision_layer_clear (&a->blocks[i]);
  g_free (a->blocks);
  if (a->dev)
    vtp_device_unref (a->dev);
  g_free (a);
}

typedef struct {
  VtpCheckpoint *c;
  VtpDevice *dev;
  VtpWeightType wtype;
} LoadArgs;

static gpointer
load_cached (gpointer data, GError **error)
{
  LoadArgs *a = data;
  return vtp_adapter_load (a->c, a->dev, a->wtype, error);
}

VtpAdapter *
vtp_adapter_acquire (VtpCheckpoint *c, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  LoadArgs args = { c, dev, wtype };
  g_autofree char *key = g_strdup_printf ("adapter|%p|%s|%d", (void *) dev, c->dir, wtype);
  return vtp_model_cache_acquire (key, load_cached, &args, (GDestroyNotify) vtp_adapter_free, error);
}

gint
vtp_adapter_prompt_rows (const VtpAdapter *a)
{
  return a->cfg.query_layer * a->cfg.query_len;
}

VtpAdapterState *
vtp_adapter_state_new (const VtpAdapter *a, gint n_features, GError **error)
{
  g_autoptr (VtpAdapterState) s = g_new0 (VtpAdapterState, 1);

  s->n_features = n_features;
  if (!(s->blocks = vtp_vision_blocks_state_new (a->dev, &a->blocks_cfg, a->cfg.query_len + n_features, error))
      || !(s->vq = vtp_tensor_new_2d (a->dev, VTP_DTYPE_F32, a->cfg.query_len, a->llm_dim, error)))
    return NULL;
  return g_steal_pointer (&s);
}

void
vtp_adapter_state_free (VtpAdapterState *s)
{
  if (!s)
    return;
  vtp_vision_state_free (s->blocks);
  vtp_tensor_free (s->vq);
  g_free (s);
}

void
vtp_adapter_forward (VtpAdapter *a, VtpAdapterState *s, const VtpTensor *features, VtpTensor *prompts)
{
  const gint Q = a->cfg.query_len, N = s->n_features, T = Q + N, V = a->cfg.v_embed_dim;
  VtpTensor *h = s->blocks->h;

  if (vtp_error_is_pending ())
    return;
  if (vtp_tensor_rows (features) != N || vtp_tensor_cols (features) != a->cfg.clip_dim
      || vtp_tensor_rows (prompts) != vtp_adapter_prompt_rows (a) || vtp_tensor_cols (prompts) != a->llm_dim) {
    vtp_error_set_pending (VTP_ERROR_SHAPE, "vtpadapter: features [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] or "
        "prompts [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] do not fit an adapter for [%d, %d] -> [%d, %d]",
        vtp_tensor_rows (features), vtp_tensor_cols (features), vtp_tensor_rows (prompts), vtp_tensor_cols (prompts),
        N, a->cfg.clip_dim, vtp_adapter_prompt_rows (a), a->llm_dim);
    return;
  }
  /* rows [0, Q): the visual queries; [Q, T): the projected CLIP tokens */
  vtp_tensor_copy_rect (h, 0, 0, a->visual_query, 0, 0, Q, V);
  vtp_op_linear (h, Q, features, 0, N, a->clip_proj_w, a->clip_proj_b, FALSE);
  vtp_op_layernorm (h, h, Q, N, a->clip_norm_w, a->clip_norm_b, ADAPTER_LN_EPS);
  for (gint i = 0; i < a->cfg.v_depth; i++)
    vtp_vision_block_forward (&a->blocks_cfg, &a->blocks[i], s->blocks, T);
  vtp_op_linear (s->vq, 0, h, 0, Q, a->visual_proj_w, a->visual_proj_b, FALSE);
  vtp_op_layernorm (s->vq, s->vq, 0, Q, a->visual_norm_w, a->visual_norm_b, ADAPTER_LN_EPS);
  /* each adapted layer's prompt: its own adapter_query rows + the same vq */
  for (gint j = 0; j < a->cfg.query_layer; j++)
    vtp_tensor_copy_rect (prompts, (gint64) j * Q, 0, s->vq, 0, 0, Q, a->llm_dim);
  vtp_op_add (prompts, a->adapter_query, 0, vtp_adapter_prompt_rows (a));
}
