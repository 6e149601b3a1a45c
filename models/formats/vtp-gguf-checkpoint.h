/* vtp-gguf-checkpoint.h: a llama.cpp GGUF file presented as the checkpoint
 * the loaders already read (vtp-checkpoint.h), so that `model=x.gguf` runs
 * through the same Llama code as a safetensors directory.
 *
 * A text model (general.architecture "llama") becomes:
 *   - tensors under Meta's Llama names (token_embd -> tok_embeddings,
 *     blk.N.attn_q -> layers.N.attention.wq, ffn_gate -> feed_forward.w1,
 *     output_norm -> norm, output -> output...). llama.cpp's converter
 *     permutes the query and key rows of HF checkpoints back into Meta's
 *     layout (RoPE on adjacent pairs), and vtp-llama runs Meta-named
 *     checkpoints with the interleaved RoPE, so the names carry the layout;
 *   - shapes in row-major order (ggml's ne[] reversed: ne [64, 448] is a
 *     [448, 64] matrix);
 *   - dtypes F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
 *     Q5_K, Q6_K, IQ4_NL, IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S,
 *     IQ1_S, IQ1_M as they are in the file (the block types are ggml's layouts, which vtp uses as is); any
 *     other type is kept with dtype_supported FALSE, and loading it is an
 *     error naming the file, the tensor and its type;
 *   - a config.json synthesized from the llama.* metadata (model_type
 *     "llama", hidden size, layers, heads, KV heads, FFN size, RMS epsilon,
 *     RoPE base, context length, vocabulary, BOS / EOS from
 *     tokenizer.ggml.*; tie_word_embeddings when there is no output.weight).
 *
 * An mmproj file (general.architecture "clip": LLaVA's CLIP tower and
 * projector) becomes the vision half of a llava-hf checkpoint
 * (formats/vtp-gguf-mmproj.h). With a text model beside it, the config is a
 * llava one whose text_config is the llama config above and whose
 * image_token_index is the vocabulary's "<image>" (-1 when it has none: the
 * prompt is split at the marker's text); alone, its text_config says only
 * the projector's output width.
 *
 * Other architectures are refused, naming general.architecture. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-gguf.h"

G_BEGIN_DECLS

/* Fills @c (tensors, config, image processor) from the GGUF files @paths
 * (NULL-terminated: a text model, an mmproj file, or one of each); c->dir
 * is set by the caller. */
gboolean vtp_gguf_checkpoint_fill (VtpCheckpoint *c, const char *const *paths, GError **error);
/* The same once c->gguf (text model) and / or c->gguf_vision (mmproj) are
 * set: what the GGUF fuzz target reaches without files. */
gboolean vtp_gguf_checkpoint_fill_opened (VtpCheckpoint *c, GError **error);

/* The GGUF name of the vtp name @name ("layers.3.attention.wq.weight" ->
 * "blk.3.attn_q.weight"), for error messages; a copy of @name when it has
 * no other. */
char *vtp_gguf_tensor_name (const char *name);

G_END_DECLS
