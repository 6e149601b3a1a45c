/* fuzz-graph.c: a graph file (docs/graph-format.md) read and checked
 * against the GStreamer registry: parameters, elements and their
 * properties, links, input and output. The vtp plugin is found through
 * GST_PLUGIN_PATH (meson's test environment sets it; scripts/fuzz.sh
 * too), so that the graphs of graphs/ check their vtp elements. */
#include <string.h>
#include "fuzz-target.h"
#include "vtp-graph-spec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpGraphSpec) spec = NULL;
  static gsize inited;

  if (g_once_init_enter (&inited)) {
    gst_init (NULL, NULL);
    g_once_init_leave (&inited, 1);
  }
  spec = vtp_graph_spec_parse ((const char *) data, size, "fuzz.json", &error);
  if (!spec)
    return 0;
  /* a parameter's value checked as vtp-run checks one from the command line */
  for (guint i = 0; i < spec->params->len; i++) {
    const VtpGraphParam *p = &g_array_index (spec->params, VtpGraphParam, i);
    g_assert (vtp_graph_spec_find_param (spec, p->name) == p);
    if (p->default_value && p->type != VTP_PARAM_PATH)
      vtp_graph_param_check (spec, p, p->default_value, NULL);
    vtp_graph_param_check (spec, p, "12", NULL);
  }
  return 0;
}
