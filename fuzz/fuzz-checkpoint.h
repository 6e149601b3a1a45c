/* fuzz-checkpoint.h: a checkpoint made in memory, with no directory behind
 * it, so that the config and GGUF targets reach vtp_model_parts_read and
 * the GGUF config synthesis. Its dir names no file: the readers that look
 * for optional files beside config.json find none. */
#pragma once
#include "vtp-checkpoint.h"

static inline VtpCheckpoint *
fuzz_checkpoint_new (void)
{
  VtpCheckpoint *c = g_new0 (VtpCheckpoint, 1);

  c->ref_count = 1;
  /* never opened through vtp_checkpoint_open, so never in its cache:
   * vtp_checkpoint_unref frees it without finding another by this name */
  c->dir = g_strdup ("/nonexistent/vtp-fuzz-checkpoint");
  c->files = g_ptr_array_new ();
  c->tensors = g_hash_table_new (g_str_hash, g_str_equal);
  return c;
}
