/* activation.cl: the three activations of the model families (see
 * model-spec section 1) and the elementwise helpers. In place. */

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

/* gate = silu(gate) * up: the Llama MLP's elementwise step. */
__kernel void silu_mul (__global float *gate, __global const float *up, int off)
{
  const size_t i = off + get_global_id (0);
  const float g = gate[i];
  gate[i] = g * (1.0f / (1.0f + exp (-g))) * up[i];
}

__kernel void add_inplace (__global float *y, __global const float *x, int off)
{
  const size_t i = off + get_global_id (0);
  y[i] += x[i];
}
