/* vtp-graph-spec.h: a graph file (docs/graph-format.md) read and checked:
 * the parameters a user fills in, the elements with their properties, the
 * links, the input and output elements. Every error names the file, the
 * JSON path of the offending member and what was expected. Checking needs
 * the GStreamer registry (factories, their properties and pad templates)
 * but builds nothing. */
#pragma once
#include <gst/gst.h>
#include "vtp-graph.h"            /* VTP_GRAPH_ERROR */

G_BEGIN_DECLS

typedef enum {
  VTP_PARAM_STRING,
  VTP_PARAM_PATH,               /* a file or directory that must exist */
  VTP_PARAM_INT,
  VTP_PARAM_NUMBER,
  VTP_PARAM_BOOLEAN,
} VtpParamType;

typedef struct {
  char *name;
  VtpParamType type;
  char *description;
  gboolean required;
  char *default_value;          /* as text, or NULL */
  gboolean model;               /* a path bound to a vtp element's model or adapter: it may also be a name
                                 * looked up in $VTP_MODEL_PATH, as the elements look it up */
} VtpGraphParam;

typedef struct {
  char *name;                   /* property name */
  char *value;                  /* literal, as text, or NULL when from a parameter */
  char *param;                  /* "${name}": the parameter's name */
} VtpGraphProperty;

typedef struct {
  char *name;
  char *factory;
  GArray *properties;           /* VtpGraphProperty */
} VtpGraphElement;

typedef struct {
  guint from, to;               /* element indices */
  char *from_pad, *to_pad;      /* or NULL: the element's always pads */
} VtpGraphLink;

typedef struct {
  char *file;
  char *name, *description;
  GArray *params;               /* VtpGraphParam */
  GArray *elements;             /* VtpGraphElement */
  GArray *links;                /* VtpGraphLink */
  guint input, output;          /* element indices */
} VtpGraphSpec;

/* Reads and checks @path. */
VtpGraphSpec *vtp_graph_spec_load (const char *path, GError **error);
/* The same from JSON text; @file names it in errors. */
VtpGraphSpec *vtp_graph_spec_parse (const char *json, gssize length, const char *file, GError **error);
void vtp_graph_spec_free (VtpGraphSpec *spec);

const VtpGraphParam *vtp_graph_spec_find_param (const VtpGraphSpec *spec, const char *name);
/* Whether @value suits @param's type (a path that exists, or for a model
 * parameter a model name found in $VTP_MODEL_PATH; a number...); the error
 * names the parameter. */
gboolean vtp_graph_param_check (const VtpGraphSpec *spec, const VtpGraphParam *param, const char *value,
    GError **error);

/* @text as a value of @pspec's type (enum nicks, numbers, booleans as
 * GStreamer's deserialisation reads them), within its range; else FALSE
 * with *why saying what was expected. */
gboolean vtp_graph_value_from_text (GParamSpec *pspec, const char *text, GValue *value, char **why);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpGraphSpec, vtp_graph_spec_free)

G_END_DECLS
