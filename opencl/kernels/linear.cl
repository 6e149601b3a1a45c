/* linear.cl: y[m, n] (+)= sum_k x[m, k] * W[n, k] + bias[n], W in PyTorch
 * [out, in] layout. Two shapes of the same product:
 *  - gemv_*: one work-group per (output column, row); for decode, where the
 *    weights are read once per token and bandwidth is everything;
 *  - gemm_*: each work-item a GEMM_TM x GEMM_TN tile of y, K walked in float8
 *    steps so that both x and W rows are read contiguously; for prefill and
 *    the vision tower, where each weight row serves many tokens. */

#define GEMM_TM 2
#define GEMM_TN 4

#define DEFINE_LINEAR(T, WT)                                                   \
__kernel void gemv_##T (__global const float *x, int x_off,                  \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int K, int N, int accumulate,                \
    __local float *scratch)                                                    \
{                                                                              \
  const int n = get_group_id (0), m = get_group_id (1);                        \
  const int lid = get_local_id (0), lsz = get_local_size (0);                  \
  __global const float *xr = x + x_off + (size_t) m * K;                       \
  __global const WT *wr = w + (size_t) n * K;                                  \
  float8 acc8 = 0.0f;                                                          \
  float acc = 0.0f;                                                            \
  const int k8 = K & ~7;                                                       \
  for (int k = lid * 8; k < k8; k += lsz * 8)                                  \
    acc8 = fma (vload8 (0, xr + k), load8_##T (wr, k), acc8);                  \
  for (int k = k8 + lid; k < K; k += lsz)                                      \
    acc = fma (xr[k], load1_##T (wr, k), acc);                                 \
  acc = group_sum (acc + hsum8 (acc8), scratch);                               \
  if (lid == 0) {                                                              \
    __global float *yp = y + y_off + (size_t) m * N + n;                       \
    if (has_bias)                                                              \
      acc += bias[n];                                                          \
    *yp = accumulate ? *yp + acc : acc;                                        \
  }                                                                            \
}                                                                              \
                                                                               \
__kernel void gemm_##T (__global const float *x, int x_off,                  \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int M, int K, int N, int accumulate)         \
{                                                                              \
  const int n0 = get_global_id (0) * GEMM_TN, m0 = get_global_id (1) * GEMM_TM;\
  if (n0 >= N || m0 >= M)                                                      \
    return;                                                                    \
  __global const float *xr[GEMM_TM];                                           \
  __global const WT *wr[GEMM_TN];                                              \
  float8 acc[GEMM_TM][GEMM_TN];                                                \
  for (int i = 0; i < GEMM_TM; i++)                                            \
    xr[i] = x + x_off + (size_t) min (m0 + i, M - 1) * K;                      \
  for (int j = 0; j < GEMM_TN; j++)                                            \
    wr[j] = w + (size_t) min (n0 + j, N - 1) * K;                              \
  for (int i = 0; i < GEMM_TM; i++)                                            \
    for (int j = 0; j < GEMM_TN; j++)                                          \
      acc[i][j] = 0.0f;                                                        \
  const int k8 = K & ~7;                                                       \
  for (int k = 0; k < k8; k += 8) {                                            \
    float8 wv[GEMM_TN];                                                        \
    for (int j = 0; j < GEMM_TN; j++)                                          \
      wv[j] = load8_##T (wr[j], k);                                            \
    for (int i = 0; i < GEMM_TM; i++) {                                        \
      float8 xv = vload8 (0, xr[i] + k);                                       \
      for (int j = 0; j < GEMM_TN; j++)                                        \
        acc[i][j] = fma (xv, wv[j], acc[i][j]);                                \
    }                                                                          \
  }                                                                            \
  for (int i = 0; i < GEMM_TM; i++) {                                          \
    if (m0 + i >= M)                                                           \
      break;                                                                   \
    for (int j = 0; j < GEMM_TN; j++) {                                        \
      if (n0 + j >= N)                                                         \
        break;                                                                 \
      float s = hsum8 (acc[i][j]);                                             \
      for (int k = k8; k < K; k++)                                             \
        s = fma (xr[i][k], load1_##T (wr[j], k), s);                           \
      if (has_bias)                                                            \
        s += bias[n0 + j];                                                     \
      __global float *yp = y + y_off + (size_t) (m0 + i) * N + n0 + j;         \
      *yp = accumulate ? *yp + s : s;                                          \
    }                                                                          \
  }                                                                            \
}

DEFINE_LINEAR (f32, float)
DEFINE_LINEAR (f16, half)
DEFINE_LINEAR (bf16, ushort)
