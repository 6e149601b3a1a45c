/* activation.cl: the activations of the model families (see model-spec
 * section 1; a config may name any of vtp_activation_parse's) and the
 * elementwise helpers. In place. */

__kernel void gelu_erf (__global float *x, int off)
{
  const size_t i = off + get_global_id (0);
  const float v = x[i];
  x[i] = 0.5f * v * (1.0f + erf (v * M_SQRT1_2_F));
}

__kernel void quick_gelu (__global float *x, int off)
{
  const size_t i = off + get_global_id (0);
  const float v = x[i];
  x[i] = v * (1.0f / (1.0f + exp (-1.702f * v)));
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
__kernel void relu (__global float *x, int off)
{
  const size_t i = off + get_global_id (0);
  const float v = x[i];
  x[i] = v < 0.0f ? 0.0f : v;
}

/* gate = silu(gate) * up: the Llama MLP's elementwise step. */
__kernel void silu_mul (__global float *gate, __global const float *up, int off)
{
  const size_t i = off + get_global_id (0);
  const float g = gate[i];
  gate[i] = g * (1.0f / (1.0f + exp (-g))) * up[i];
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
