/* activation.cl: the activations of the model families (see model-spec
 * section 1; a config may name any of vtp_activation_parse's) and the
 * elementwise helpers. In place. */

/* erf by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7, so
 * GELU's under 0.75e-7 |x|), in 16 lanes: PoCL's erf is a scalar libm call
 * per element, and EVA ViT-g's GELU (BLIP-2, InstructBLIP) took 28% of
 * its encode with it (15 ms for 257 x 6144 values). */
inline float16 erf16 (float16 x)
{
  const float16 a = fabs (x), t = 1.0f / (1.0f + 0.3275911f * a);
  const float16 p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t
      + 0.254829592f) * t;
  return copysign (1.0f - p * exp (-a * a), x);
}

/* @n values from @off, 16 a work-item (the last one the rest, lane by lane). */
__kernel void gelu_erf (__global float *x, int off, int n)
{
  const int i = get_global_id (0) * 16;
  __global float *p = x + off + i;
  if (i + 16 <= n) {
    const float16 v = vload16 (0, p);
    vstore16 (0.5f * v * (1.0f + erf16 (v * M_SQRT1_2_F)), 0, p);
    return;
  }
  for (int j = 0; i + j < n; j++) {
    const float16 v = (float16) p[j];
    p[j] = (0.5f * v * (1.0f + erf16 (v * M_SQRT1_2_F))).s0;
  }
}

/* @n values from @off, 16 a work-item as gelu_erf (one value a work-item
 * took ~2.4 ms for ViT-L's 577 x 4096 on 2 cores of the Intel Xeon: exp
 * one value at a time) */
inline float16 quick_gelu16 (float16 v)
{
  return v * (1.0f / (1.0f + exp (-1.702f * v)));
}

__kernel void quick_gelu (__global float *x, int off, int n)
{
  const int i = get_global_id (0) * 16;
  __global float *p = x + off + i;
  if (i + 16 <= n) {
    vstore16 (quick_gelu16 (vload16 (0, p)), 0, p);
    return;
  }
  for (int j = 0; i + j < n; j++)
    p[j] = quick_gelu16 ((float16) p[j]).s0;
}

/* GELU's tanh approximation: transformers' gelu_pytorch_tanh, gelu_new,
 * gelu_fast and gelu_accurate all compute this. */
__kernel void gelu_tanh (__global float *x, int off)
{
  const size_t i = off + get_global_id (0);
  const float v = x[i];
  x[i] = 0.5f * v * (1.0f + tanh (0.7978845608f * (v + 0.044715f * v * v * v)));
}

__kernel void silu (__global float *x, int off)
{
  const size_t i = off + get_global_id (0);
  const float v = x[i];
  x[i] = v * (1.0f / (1.0f + exp (-v)));
}

/* NaN stays NaN, as in torch.relu */
inline void relu_at (__global float *x, size_t i)
{
  const float v = x[i];
  x[i] = v < 0.0f ? 0.0f : v;
}

__kernel void relu (__global float *x, int off)
{
  relu_at (x, off + get_global_id (0));
}

/* gate = silu(gate) * up: the Llama MLP's elementwise step. */
inline void silu_mul_at (__global float *gate, __global const float *up, size_t i)
{
  gate[i] = silu_times (gate[i], up[i]);
}

__kernel void silu_mul (__global float *gate, __global const float *up, int off)
{
  silu_mul_at (gate, up, off + get_global_id (0));
}

__kernel void mul_inplace (__global float *y, __global const float *x, int off)
{
  const size_t i = off + get_global_id (0);
  y[i] *= x[i];
}

__kernel void add_inplace (__global float *y, __global const float *x, int off)
{
  const size_t i = off + get_global_id (0);
  y[i] += x[i];
}
