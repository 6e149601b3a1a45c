#include "vtp-projector.h"
#include "vtp-model-cache.h"
#include "vtp-ops.h"

VtpProjector *
vtp_projector_load (VtpCheckpoint *c, const char *prefix, const VtpLlavaConfig *cfg,
    gint in_width, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  g_autoptr (VtpProjector) p = g_new0 (VtpProjector, 1);
  VtpLoader l = { c, dev, wtype, prefix, error, FALSE };
  const gint64 D = cfg->text.hidden_size;

  p->type = cfg->projector_type;
  p->act = cfg->projector_act;
  p->in_width = in_width;
  p->out_width = D;
  p->dev = vtp_device_ref (dev);
  p->w1 = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (D, in_width), "linear_1.weight");
  if (cfg->projector_bias)
    p->b1 = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "linear_1.bias");
  if (p->type == VTP_PROJECTOR_MLP2X_GELU) {
    p->w2 = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "linear_2.weight");
    if (cfg->projector_bias)
      p->b2 = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "linear_2.bias");
  }
  return l.failed ? NULL : g_steal_pointer (&p);
}

typedef struct {
  VtpCheckpoint *c;
  const char *prefix;
  const VtpLlavaConfig *cfg;
  gint in_width;
  VtpDevice *dev;
  VtpWeightType wtype;
} LoadArgs;

static gpointer
load_cached (gpointer data, GError **error)
{
  LoadArgs *a = data;
  return vtp_projector_load (a->c, a->prefix, a->cfg, a->in_width, a->dev, a->wtype, error);
}

VtpProjector *
vtp_projector_acquire (VtpCheckpoint *c, const char *prefix, const VtpLlavaConfig *cfg,
    gint in_width, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  LoadArgs a = { c, prefix, cfg, in_width, dev, wtype };
  g_autofree char *key = g_strdup_printf ("projector|%p|%s|%s|%d|%d", (void *) dev, c->dir, prefix, in_width,
      wtype);
  return vtp_model_cache_acquire (key, load_cached, &a, (GDestroyNotify) vtp_projector_free, error);
}

void
vtp_projector_free (VtpProjector *p)
{
  if (!p)
    return;
  vtp_tensor_free (p->w1);
  vtp_tensor_free (p->b1);
  vtp_tensor_free (p->w2);
  vtp_tensor_free (p->b2);
  if (p->dev)
    vtp_device_unref (p->dev);
  g_free (p);
}

void
vtp_projector_forward (VtpProjector *p, const VtpTensor *in, gint rows, VtpTensor *hidden, VtpTensor *out)
{
  if (p->type == VTP_PROJECTOR_LINEAR) {
    vtp_op_linear (out, 0, in, 0, rows, p->w1, p->b1, FALSE);
    return;
  }
  vtp_op_linear (hidden, 0, in, 0, rows, p->w1, p->b1, FALSE);
  vtp_activation_apply (p->act, hidden, 0, rows);
  vtp_op_linear (out, 0, hidden, 0, rows, p->w2, p->b2, FALSE);
}
