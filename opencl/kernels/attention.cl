/* attention.cl: softmax(q·kᵀ·scale [+ causal mask]) · v for every head and
 * query row. One work-group per (query row, head). Grouped-query attention:
 * head h reads kv head h / (H / Hkv). Rows are token-major: head h of row i
 * starts at i * stride + h * d. Query row i sits at absolute position
 * q_pos0 + i; causal rows see keys 0 .. q_pos0 + i. Probabilities go through
 * @scores ([H, nq, nk]) so each key's weight is computed once. With
 * pb_stride > 0, a bias by relative position is added to the scaled scores
 * (T5): head h, key j, query row i add pos_bias[h * pb_stride + pb_center +
 * j - (q_pos0 + i)]. */

#define ATTENTION_MAX_D8 32     /* head_dim up to 256 on the one-work-item path */
#define ATTN16_MAX_D 128        /* attention_rows16: head_dim up to 128 */
/* Grouped-query decode attention on CPUs takes heads of 64 and 128 eight
 * at a time (attend_heads8, attention-kv.cl); -DATTEND_HEADS8=0: four at
 * a time, a head at a time over the values, for all (attend_group4). */
#ifndef ATTEND_HEADS8
#define ATTEND_HEADS8 1
#endif
/* attend_heads8 requests each value row into L2 while it reads the key row
 * of the same position, so that its pass over the values (half the
 * attention's time at depth 512, timed with the pass left out) finds them
 * there: the 1.1B's decode at depth 512 (vtp-bench-llm -p 512 -n 64 -r
 * 4..6 -k KV -a VTP_KERNEL_DEFINES=-DATT_V_AHEAD=0,-DATT_V_AHEAD=1) Q4_0
 * 1.013x (F16 cache), 1.006x (F32), Q4_K_M 1.012x (F16); with the key rows
 * requested 16 rows ahead instead of 8 as well, 1.003x. */
#ifndef ATT_V_AHEAD
#define ATT_V_AHEAD 1
#endif
#ifndef KV_PREFETCH_ROWS
#define KV_PREFETCH_ROWS 8      /* how many cache rows ahead a decode step requests (attention-kv.cl) */
#endif

/* The kernels that read the key and value caches are in attention-kv.cl,
 * built twice: for F32 caches and for F16 ones (kv-type=f16). */

/* LLaMA-Adapter's adapted attention: out[i, head h] += gate[h] *
 * softmax(q_i·pkᵀ·scale) · pv over the np adaption-prompt positions, a
 * softmax of its own (separate from the causal one), keys not rotated. One
 * work-item per (query row, head); np is small (10 in the releases). */
#define ADAPTER_MAX_PROMPTS 64

__kernel void adapter_attention (__global const float *q, int q_off, int q_stride,
    __global const float *pk, __global const float *pv, int p_stride, int np,
    __global const float *gates, int gate_off, int H, int Hkv, int d, float scale,
    __global float *out, int out_off, int out_stride)
{
  const int qi = get_global_id (0), h = get_global_id (1);
  const int g = h / (H / Hkv);
  __global const float *qr = q + q_off + (size_t) qi * q_stride + h * d;
  __global float *o = out + out_off + (size_t) qi * out_stride + h * d;
  float s[ADAPTER_MAX_PROMPTS];
  float mx = -INFINITY, sum = 0.0f;

  for (int j = 0; j < np; j++) {
    __global const float *kr = pk + (size_t) j * p_stride + g * d;
    float a = 0.0f;
    for (int c = 0; c < d; c++)
      a = fma (qr[c], kr[c], a);
    s[j] = a * scale;
    mx = fmax (mx, s[j]);
  }
  for (int j = 0; j < np; j++) {
    s[j] = exp (s[j] - mx);
    sum += s[j];
  }
  const float gate = gates[gate_off + h], inv = 1.0f / sum;
  for (int j = 0; j < np; j++)
    s[j] = gate * (s[j] * inv);
  for (int c = 0; c < d; c++) {
    float acc = 0.0f;
    for (int j = 0; j < np; j++)
      acc = fma (s[j], pv[(size_t) j * p_stride + g * d + c], acc);
    o[c] += acc;
  }
}
