/* decode-layer.cl: one Llama (or OPT) decoder layer's decode step (one
 * row) in one launch, for CPUs under PoCL (vtp-decode-layer.c), and a
 * whole decode step in one launch (vtp-decode-step.c). Built three times,
 * after attention-kv.cl's three builds and rope.cl: KV_TYPE 0, 1, 2 for
 * F32, F16 and Q8_0 caches (kernels decode_layer, decode_token and
 * decode_rows_token with _f16, _q8_0 for the others); with the first,
 * batched decoding's two halves of a layer for several rows of int8
 * weights (decode_rows_in, decode_rows_out) and the tables' writer
 * (dl_addresses).
 *
 * Why: PoCL's worker threads sleep on a condition variable between
 * kernels, and a decode step launched ~10 kernels a layer; each launch cost
 * a wake-up of 20-50 us on machines whose idle CPUs halt (docs/performance.md
 * "Where a decode step's time goes besides the weights"). Here the layer's
 * ten steps (norm, q|k|v, RoPE, cache store, attention, o, norm, gate|up,
 * SiLU, down) run inside one kernel of one work-item a compute unit: the
 * work-items take each step's tasks (runs of weight panels, heads, ranges)
 * from a counter and, after a step, spin until every task of it is done
 * (llama.cpp's threads wait for each other the same way).
 *
 * No deadlock when the work-items do not all run at once: a task is taken
 * only by a running work-item, which finishes it, and a work-item that
 * starts late finds the counters run out; one work-item alone does all.
 *
 * Each task computes what the kernels of the unfused step compute for the
 * same outputs, with the same functions (rmsnorm_row or layernorm_row,
 * vnni_panel_of or p16s_panel_<T>, or their pairs, rope_pair, kv_write_at, attend_group or
 * attend_row, silu_mul_at or relu_at): the same bits
 * (tests/test-decode-layer.c). */
#ifdef VTP_POCL_CPU

#if KV_TYPE == 1
#define DL_T half
#define DL_NAME(n) n##_f16
#elif KV_TYPE == 2
#define DL_T uchar
#define DL_NAME(n) n##_q8_0
#else
#define DL_T float
#define DL_NAME(n) n
#endif

#if KV_TYPE == 0
/* ---- once: what does not depend on the cache type ---- */

/* sync: step s's counters at 2 s (tasks taken) and 2 s + 1 (tasks done),
 * for the layer's 10 steps, the head's 2 and decode_token's RoPE angles
 * (12, in the first layer's); then, last, the work-items done with the
 * launch (DL_SYNC_INTS a layer: VTP_DECODE_SYNC_INTS) */
#define DL_FINISHED 31
#define DL_SYNC_INTS 32
/* decode_token's and decode_rows_token's table: a layer's row of DL_SLOTS
 * values, the pointers of attn_norm, ffn_norm, wq, wk, wv, wo, wg, wu, wd,
 * bq, bk, bv, bo, bg, bu, bd, kc, vc (0 .. 17; decode_rows_token: no kc,
 * vc), then the ints biases, tq .. td, g_qkv, g_o, g_gu, g_d
 * (vtp-decode-step.c's layer_slots) */
#define DL_SLOTS 32
#define DL_SLOT_KC 16
#define DL_SLOT_VC 17
#define DL_SLOT_INTS 18
/* Runs of an even count of panels (the last of a step aside), so that the
 * types that read two panels side by side (dl_pair) are not left one
 * alone at a run's end (1.1B decode in one process, -a
 * VTP_KERNEL_DEFINES=-DDL_EVEN_RUNS=0,-DDL_EVEN_RUNS=1: Q4_0 1.009x, Q8_0
 * 1.017x; the profile had 2% of Q4_0's samples in lone panels) */
#ifndef DL_EVEN_RUNS
#define DL_EVEN_RUNS 1
#endif
/* RoPE takes its heads in runs of up to DL_ROPE_RUN (dl_take's guided
 * runs): a head a task (36 for the 1.1B), each taken and counted done by
 * an atomic on a line the two cores pass back and forth, took 4.2-5.9 us
 * a layer, runs of 8 2.0 (the 2-core Xeon with AMX, the 1.1B's decode
 * traced, medians: -DDL_TRACE=1 with a stamp around the step; the decode
 * alike within the noise, 0.992-1.009x). -DDL_ROPE_RUN=1: a head a task. */
#ifndef DL_ROPE_RUN
#define DL_ROPE_RUN 8
#endif
#define DL_MIN_RUN 2            /* panels a product task takes at least ... */
#define DL_MAX_RUN 32           /* ... and at most (as qlinear_vnni's P) */
#define DL_TYPE_F32 32          /* weight type codes (vtp_linear_gemv_panels): */
#define DL_TYPE_F16 33          /* vnni_type_code's 0 .. 18, and the float */
#define DL_TYPE_BF16 34         /* panels' */
#ifdef VTP_X86_INT8
#define DL_X_K VNNI_MAX_K       /* x's int8 copy: private arrays as qlinear_vnni's */
#else
#define DL_X_K 64               /* (no int8 products: unused) */
#endif

/* -DDL_TRACE=1 (through $VTP_KERNEL_DEFINES): each work-item prints, per
 * product step, the time stamp counter's ticks spent on its runs and in
 * the wait after them, and the bytes of weights its runs read; per launch,
 * its first and last stamps. bench/decode-trace.py sums them up: how fast
 * the products read inside the fused layer, what the waits, the other
 * steps and the gaps between launches cost. (Timing the launches from the
 * host, VTP_PROFILE_KERNELS, waits for each kernel and changes what it
 * measures.) x86-64 only (rdtsc); printf's lines leave after each launch. */
#ifndef DL_TRACE
#define DL_TRACE 0
#endif
#if DL_TRACE && defined(__x86_64__)
inline uint dl_stamp (void)
{
  uint lo, hi;
  __asm__ volatile ("rdtsc" : "=a" (lo), "=d" (hi));
  return lo;                    /* wraps every few seconds: differences only */
}
#else
inline uint dl_stamp (void) { return 0; }
#endif

/* Takes the next task of a step of @n (counter @c): its first task, and
 * through @end the one after its last; a first >= n means none left. @run
 * > 1: a run of tasks, shrinking as the step nears its end (guided
 * scheduling: long runs read long stretches of weights, short last ones
 * keep the work-items finishing together). */
inline int dl_take (__global volatile int *c, int n, int run, int nwg, int *end)
{
  int want = run > 1 ? clamp ((n - *c) / (2 * nwg), DL_MIN_RUN, run) : 1;
  if (DL_EVEN_RUNS && run > 1)
    want = (want + 1) & ~1;
  const int first = atomic_add ((__global int *) c, want);
  *end = min (n, first + want);
  return first;
}

/* Two work-items (2 compute units) take a product step's panels in two
 * halves: each reads its own half front to back, its runs one after the
 * other in memory (so the lines its GEMV requests ahead at a run's end are
 * its next run's, and the hardware's stream goes on), then helps with the
 * other's half. With one shared counter the runs alternated between the
 * two, and each run started a new stream. On the 2-core Xeon with AMX, the
 * 1.1B's decode in one process (vtp-bench-llm -p 1 -n 64 -r 6 -a
 * VTP_KERNEL_DEFINES=-DDL_SEGMENTS=0,-DDL_SEGMENTS=1, speed over one
 * counter): Q4_K_M 1.009x / 1.024x (two runs), Q4_0 1.007x / 1.033x,
 * Q8_0 1.018x, F16 0.998x; 4 streams (-p 16 -n 33 -r 4 --streams 4) Q4_0
 * 1.002x, Q4_K_M 1.016x, 8 streams Q4_0 1.027x. -DDL_SEGMENTS=0: one
 * counter. */
#ifndef DL_SEGMENTS
#define DL_SEGMENTS 1
#endif
/* Takes the next run of a product step's @n panels for work-item @me of
 * two: the panels in two halves, each with its own counter (16 bits of
 * @c each: the first half's taken from 0 up in the low bits, the second's
 * from @h up in the high ones; @n < 32768 keeps each below 2^16 with what
 * a work-item takes past its half's end); a work-item takes runs from its
 * own half (long ones, shrinking near the half's end so that the other
 * can help in small steps), then from the other's. @h is even: a run never
 * splits a pair of panels read side by side (dl_pair). */
inline int dl_take_halves (__global volatile int *c, int n, int run, int me, int *end)
{
  const int h = min (n, ((n + 1) / 2 + 1) & ~1);
  for (int k = 0; k < 2; k++) {
    const int s = me ^ k, lo = s ? h : 0, hi = s ? n : h;
    const int seen = *c, cur = lo + (s ? (int) ((uint) seen >> 16) : seen & 0xffff);
    if (cur >= hi)
      continue;
    int want = clamp ((hi - cur) / 4, DL_MIN_RUN, run);
    if (DL_EVEN_RUNS)
      want = (want + 1) & ~1;
    const int old = atomic_add ((__global int *) c, s ? want << 16 : want);
    const int first = lo + (s ? (int) ((uint) old >> 16) : old & 0xffff);
    if (first < hi) {
      *end = min (hi, first + want);
      return first;
    }
  }
  return n;
}

/* The next run of a product step's @n panels (dl_take's guided runs; two
 * work-items: dl_take_halves) */
inline int dl_take_panels (__global volatile int *c, int n, int nwg, int *end)
{
  if (DL_SEGMENTS && nwg == 2 && n < 32768)
    return dl_take_halves (c, n, DL_MAX_RUN, get_group_id (0), end);
  return dl_take (c, n, DL_MAX_RUN, nwg, end);
}

/* @count more of a step's tasks done (its counter @d): after their writes
 * (the atomic orders them before it). */
inline void dl_done (__global volatile int *d, int count)
{
  atomic_add ((__global int *) d, count);
}

/* Gives this thread's CPU to another runnable thread, if any: Linux's
 * sched_yield as a system call on x86-64 (the kernel library has no such
 * function, and PoCL 3.1 crashes building a program that calls one it
 * cannot find); elsewhere nothing (the waits only spin). */
inline void dl_yield (void)
{
#if defined(__x86_64__)
  long r;
  __asm__ volatile ("syscall" : "=a" (r) : "a" (24L) : "rcx", "r11", "memory");
#endif
}

/* Turns of a wait's loop before each yield (~1 us on the Zen 4 EPYC) */
#ifndef DL_SPINS_BEFORE_YIELD
#define DL_SPINS_BEFORE_YIELD 4096
#endif

/* Spins until all @n tasks of the step are done; the atomic after the wait
 * orders this work-item's next reads after the others' writes. A wait that
 * lasts yields the CPU now and then: when more threads want the CPUs than
 * there are (several decoding processes), the work-item whose task this
 * one waits for may be off its CPU, and spinning on would keep it there
 * (measured: 4 processes on 2 cores decoded 34% slower than the unfused
 * kernels without the yield; with it, 1.27x them: docs/performance.md). */
inline void dl_wait (__global volatile int *d, int n)
{
  int spins = 0;
  while (*d < n)
    if (++spins == DL_SPINS_BEFORE_YIELD) {
      dl_yield ();
      spins = 0;
    }
  atomic_add ((__global int *) d, 0);
}

/* A product of the layer: weights @w (16-row panels, type code @type), @np
 * panels, bias @b (with @hb), output @y (added to with @acc). */
typedef struct {
  __global const uchar *w;
  __global const float *b;
  __global float *y;
  int np, type, hb, acc;
} DlProduct;

/* A layer's weights: its norms (and OPT's norm biases), its products
 * q, k, v, o, gate, up, down (0 .. 6): weights, biases (where bit i of
 * @biases is set), type codes; x's int8 groups for q | k | v, o, gate |
 * up, down. From a kernel's arguments (decode_layer) or a table row
 * (dl_weights_of_row). */
typedef struct {
  __global const float *attn_norm, *ffn_norm, *an_b, *fn_b;
  __global const uchar *w[7];
  __global const float *b[7];
  int biases, type[7], groups[4];
} DlWeights;

/* The weights of table row @r (decode_token's, decode_rows_token's) */
inline DlWeights dl_weights_of_row (__global const ulong *r)
{
  DlWeights lw = { (__global const float *) r[0], (__global const float *) r[1], 0, 0 };
  for (int i = 0; i < 7; i++) {
    lw.w[i] = (__global const uchar *) r[2 + i];
    lw.b[i] = (__global const float *) r[9 + i];
    lw.type[i] = (int) r[DL_SLOT_INTS + 1 + i];
  }
  lw.biases = (int) r[DL_SLOT_INTS];
  for (int i = 0; i < 4; i++)
    lw.groups[i] = (int) r[DL_SLOT_INTS + 8 + i];
  return lw;
}

/* Product @i of @lw into @y (@np panels; added to with @acc) */
inline DlProduct dl_product (const DlWeights *lw, int i, __global float *y, int np, int acc)
{
  const DlProduct o = { lw->w[i], lw->b[i], y, np, lw->type[i], (lw->biases >> i) & 1, acc };
  return o;
}

/* Panel @lp of product @o over x's row @xr (K wide; quantized into xq ..
 * for the int8 types). */
inline float16 dl_panel (const DlProduct *o, int lp, __global const float *xr, int K, const int *xq,
    const int *xs, const int *xm, const float *dx)
{
  const size_t at = (size_t) 16 * lp * K;
  switch (o->type) {
    case DL_TYPE_F32: return p16s_panel_f32 (xr, (__global const float *) o->w + at, K);
    case DL_TYPE_F16: return p16s_panel_f16 (xr, (__global const half *) o->w + at, K);
    case DL_TYPE_BF16: return p16s_panel_bf16 (xr, (__global const ushort *) o->w + at, K);
#ifdef VTP_X86_INT8
    default: return vnni_panel_of (o->type, o->w, lp, K, xq, xs, xm, dx, K / 32);
#else
    default: return (float16) NAN;
#endif
  }
}

/* Panels @lp and @lp + 1 of product @o side by side into out[0] and
 * out[1], the same sums as dl_panel's (two memory streams a core), where
 * the type reads that way: 1; otherwise nothing, 0. */
inline int dl_pair (const DlProduct *o, int lp, __global const float *xr, int K, const int *xq, const int *xs,
    const int *xm, const float *dx, float16 *out)
{
  const size_t at = (size_t) 16 * lp * K;
  switch (o->type) {
    case DL_TYPE_F32: p16s_pair_f32 (xr, (__global const float *) o->w + at, K, &out[0], &out[1]); return 1;
    case DL_TYPE_F16: p16s_pair_f16 (xr, (__global const half *) o->w + at, K, &out[0], &out[1]); return 1;
    case DL_TYPE_BF16: p16s_pair_bf16 (xr, (__global const ushort *) o->w + at, K, &out[0], &out[1]); return 1;
#ifdef VTP_X86_INT8
    default: return vnni_pair_of (o->type, o->w, lp, K, xq, xs, xm, dx, K / 32, out);
#else
    default: return 0;
#endif
  }
}

/* The bytes of one panel of type code @type, K wide (DL_TRACE). */
inline ulong dl_panel_bytes (int type, int K)
{
  switch (type) {
    case DL_TYPE_F32: return (ulong) 16 * K * 4;
    case DL_TYPE_F16:
    case DL_TYPE_BF16: return (ulong) 16 * K * 2;
#ifdef VTP_X86_INT8
    default: return vnni_panel_bytes (type, K);
#else
    default: return 0;
#endif
  }
}

/* Step @step: the @n products of x's row @xr (their panels one list, in
 * runs), x quantized by this work-item (blocks of 32 grouped by @g) when
 * they take int8 dot products; then the wait for all panels. */
inline void dl_products (__global volatile int *sync, int step, const DlProduct *o, int n, __global const float *xr,
    int K, int g, int nwg, int *xq, int *xs, int *xm, float *dx)
{
  const int total = o[0].np + (n > 1 ? o[1].np : 0) + (n > 2 ? o[2].np : 0);
  const uint t0 = dl_stamp ();
  ulong bytes = 0;
  int first, end;
#ifdef VTP_X86_INT8
  if (o[0].type < DL_TYPE_F32)
    quantize_x (xr, K / 32, g, xq, xs, dx, xm);
#endif
  while ((first = dl_take_panels (&sync[2 * step], total, nwg, &end)) < total) {
    for (int p = first; p < end; p++) {
      const int which = p < o[0].np ? 0 : p < o[0].np + o[1].np ? 1 : 2;
      const int lp = which == 0 ? p : which == 1 ? p - o[0].np : p - o[0].np - o[1].np;
      const DlProduct *op = &o[which];
      float16 s[2];
      if (DL_TRACE)
        bytes += dl_panel_bytes (op->type, K);
      if (p + 1 < end && lp + 1 < op->np && dl_pair (op, lp, xr, K, xq, xs, xm, dx, s)) {
        store16_pair (s, op->y + 16 * lp, op->b + 16 * lp, op->hb, op->acc);
        if (DL_TRACE)
          bytes += dl_panel_bytes (op->type, K);
        p++;
        continue;
      }
      store16 (dl_panel (op, lp, xr, K, xq, xs, xm, dx), op->y + 16 * lp, op->b + 16 * lp, op->hb, op->acc);
    }
    dl_done (&sync[2 * step + 1], end - first);
  }
  const uint t1 = dl_stamp ();
  dl_wait (&sync[2 * step + 1], total);
  if (DL_TRACE)
    printf ("vtp-dl-step wi=%d step=%d work=%u wait=%u bytes=%u\n", (int) get_group_id (0), step, t1 - t0,
        dl_stamp () - t1, (uint) bytes);
}

/* Takes one task of a step of @n at a time: its index, or -1 when none is left. */
inline int dl_take1 (__global volatile int *sync, int step, int n)
{
  int end;
  const int t = dl_take (&sync[2 * step], n, 1, 1, &end);
  return t < n ? t : -1;
}

/* The last work-item out sets the launch's @ints counters back to zero for
 * the next launch. */
inline void dl_finish (__global volatile int *sync, int nwg, int ints)
{
  if (atomic_inc ((__global int *) &sync[DL_FINISHED]) == nwg - 1)
    for (int i = 0; i < ints; i++)
      sync[i] = 0;
}

/* Step @step: rows 0 .. M - 1 of x (K wide) normalized into xn, a row a
 * task: RMSNorm by @w, or with @layer_norm LayerNorm by @w and @b. */
inline void dl_norm_rows (__global volatile int *sync, int step, __global const float *x, __global float *xn,
    __global const float *w, __global const float *b, int layer_norm, int M, int K, float eps)
{
  int t;
  while ((t = dl_take1 (sync, step, M)) >= 0) {
    if (layer_norm)
      layernorm_row (x + (size_t) t * K, xn + (size_t) t * K, w, b, K, eps);
    else
      rmsnorm_row (x + (size_t) t * K, xn + (size_t) t * K, w, K, eps);
    dl_done (&sync[2 * step + 1], 1);
  }
  dl_wait (&sync[2 * step + 1], M);
}

/* Up to 16 device addresses into slots @at .. @at + 15 of a table
 * (decode_token's, decode_rows_token's): p<j> into slot at + j unless it
 * is none (the slot keeps what the host wrote: 0, or an int). (OpenCL 1.2
 * has no other way to learn a buffer's address; PoCL's CPU buffers stay
 * where they are while they live, and the host keeps every buffer of a
 * table alive.) */
#define DL_ADDRESS_ARGS(j) __global const uchar *p##j
__kernel __attribute__ ((reqd_work_group_size (1, 1, 1)))
void dl_addresses (__global ulong *table, int at, DL_ADDRESS_ARGS (0), DL_ADDRESS_ARGS (1), DL_ADDRESS_ARGS (2),
    DL_ADDRESS_ARGS (3), DL_ADDRESS_ARGS (4), DL_ADDRESS_ARGS (5), DL_ADDRESS_ARGS (6), DL_ADDRESS_ARGS (7),
    DL_ADDRESS_ARGS (8), DL_ADDRESS_ARGS (9), DL_ADDRESS_ARGS (10), DL_ADDRESS_ARGS (11), DL_ADDRESS_ARGS (12),
    DL_ADDRESS_ARGS (13), DL_ADDRESS_ARGS (14), DL_ADDRESS_ARGS (15))
{
  __global const uchar *p[16] = { p0, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11, p12, p13, p14, p15 };
  for (int j = 0; j < 16; j++)
    if (p[j])
      table[(size_t) at + j] = (ulong) p[j];
}
#undef DL_ADDRESS_ARGS

/* Step @step: RoPE on q's and k's M rows (H and Hkv heads of @d), row t
 * by row t of @rope, in runs of (row, head) tasks (DL_ROPE_RUN), q's heads
 * then k's. */
inline void dl_rope_rows (__global volatile int *sync, int step, __global float *q, __global float *k,
    __global const float *rope, int M, int H, int Hkv, int d, int interleaved, int nwg)
{
  const int nh = H + Hkv, n = M * nh;
  int first, end;
  while ((first = dl_take (&sync[2 * step], n, DL_ROPE_RUN, nwg, &end)) < n) {
    for (int t = first; t < end; t++) {
      const int row = t / nh, h = t % nh;
      __global float *r = h < H ? q + (size_t) row * H * d + h * d : k + (size_t) row * Hkv * d + (h - H) * d;
      for (int j = 0; j < d / 2; j++)
        rope_pair (r, rope + (size_t) row * d, d, j, interleaved);
    }
    dl_done (&sync[2 * step + 1], end - first);
  }
  dl_wait (&sync[2 * step + 1], n);
}

/* ---- several streams' rows (batched decoding, vtp-llama-batch.c) ---- */
#ifdef VTP_X86_INT8

/* Step @step: x's M rows (K wide) to int8 into @scratch as quantize_rows_q8
 * does (groups of @g blocks; vtp-linear.c's int8_rows_layout: d_off, s_off),
 * 8 groups a task. */
inline void dl_quantize_rows (__global volatile int *sync, int step, __global const float *x, int M, int K, int g,
    __global uchar *scratch, int d_off, int s_off, int nwg)
{
  const int per_row = K / 32 / g, n = M * per_row;
  int first, end;
  while ((first = dl_take (&sync[2 * step], n, 8, nwg, &end)) < n) {
    for (int t = first; t < end; t++)
      quantize_rows_q8_at (x, K, scratch, d_off, s_off, g, M, (t % per_row) * g, t / per_row);
    dl_done (&sync[2 * step + 1], end - first);
  }
  dl_wait (&sync[2 * step + 1], n);
}

/* Step @step: the @n products of x's M rows quantized in @scratch (K wide),
 * each panel's rows in tiles of up to 6 as qgemm_vnni_few3 / _few_<T> take
 * them (vnni_tile_of); output rows N = 16 np apart. */
inline void dl_products_rows (__global volatile int *sync, int step, const DlProduct *o, int n, int M, int K,
    __global const uchar *scratch, int d_off, int s_off, int nwg)
{
  const int total = o[0].np + (n > 1 ? o[1].np : 0) + (n > 2 ? o[2].np : 0);
  int first, end;
  while ((first = dl_take_panels (&sync[2 * step], total, nwg, &end)) < total) {
    for (int p = first; p < end; p++) {
      const int which = p < o[0].np ? 0 : p < o[0].np + o[1].np ? 1 : 2;
      const int lp = which == 0 ? p : which == 1 ? p - o[0].np : p - o[0].np - o[1].np;
      const DlProduct *op = &o[which];
      for (int m0 = 0; m0 < M; m0 += 6) {
        float16 acc[6];
        vnni_tile_of (op->type, op->w, lp, scratch, d_off, s_off, K, m0, M, acc);
        for (int i = 0; i < 6 && m0 + i < M; i++)
          store16 (acc[i], op->y + (size_t) (m0 + i) * 16 * op->np + 16 * lp, op->b + 16 * lp, op->hb, op->acc);
      }
    }
    dl_done (&sync[2 * step + 1], end - first);
  }
  dl_wait (&sync[2 * step + 1], total);
}

/* Step @step: gate = silu (gate) up over M rows of @I, 8 ranges a row. */
inline void dl_silu_rows (__global volatile int *sync, int step, __global float *gate, __global const float *up,
    int M, int I)
{
  int t;
  while ((t = dl_take1 (sync, step, 8 * M)) >= 0) {
    const size_t row = (size_t) (t / 8) * I;
    for (int i = (t % 8) * I / 8; i < (t % 8 + 1) * I / 8; i++)
      silu_mul_at (gate, up, row + i);
    dl_done (&sync[2 * step + 1], 1);
  }
  dl_wait (&sync[2 * step + 1], 8 * M);
}

/* The scratch offsets of M int8 rows K wide (vtp-linear.c's int8_rows_layout) */
#define DL_D_OFF(M, K) ((M) * (K))
#define DL_S_OFF(M, K) ((M) * (K) + (M) * ((K) / 32) * 4)

/* The first half of a layer's decode step for M streams' rows (batched
 * decoding, vtp-llama-batch.c; int8 weights): xn = rmsnorm (x) attn_norm;
 * q | k | v = xn Wq | Wk | Wv (+ biases, bits 0-2 of @biases); RoPE on q, k,
 * row t by row t of @rope. Each stream's cache store and attention follow
 * (vtp_op_attention_streams), then decode_rows_out. As the kernels one by
 * one: rmsnorm, quantize_rows_q8, qgemm_vnni_few3, rope_qk (the same
 * bits). @scratch: x's int8 rows. */
__kernel __attribute__ ((reqd_work_group_size (1, 1, 1)))
void decode_rows_in (__global const float *x, __global float *xn, __global float *q, __global float *k,
    __global float *v, __global const float *rope, __global const float *attn_norm,
    __global const uchar *wq, __global const uchar *wk, __global const uchar *wv,
    __global const float *bq, __global const float *bk, __global const float *bv, int biases,
    int tq, int tk, int tv, int g, __global uchar *scratch,
    int M, int D, int H, int Hkv, int d, float eps, int interleaved, __global volatile int *sync)
{
  const int nwg = get_num_groups (0);

  dl_norm_rows (sync, 0, x, xn, attn_norm, 0, 0, M, D, eps);
  dl_quantize_rows (sync, 1, xn, M, D, g, scratch, DL_D_OFF (M, D), DL_S_OFF (M, D), nwg);
  {
    const DlProduct o[3] = { { wq, bq, q, H * d / 16, tq, biases & 1, 0 },
      { wk, bk, k, Hkv * d / 16, tk, (biases >> 1) & 1, 0 }, { wv, bv, v, Hkv * d / 16, tv, (biases >> 2) & 1, 0 } };
    dl_products_rows (sync, 2, o, 3, M, D, scratch, DL_D_OFF (M, D), DL_S_OFF (M, D), nwg);
  }
  dl_rope_rows (sync, 3, q, k, rope, M, H, Hkv, d, interleaved, nwg);
  dl_finish (sync, nwg, DL_SYNC_INTS);
}

/* The second half, after attention: x += attn Wo; xn = rmsnorm (x)
 * ffn_norm; gate | up = xn Wg | Wu; gate = silu (gate) up; x += gate Wd
 * (biases: bits 3-6 of @biases). As the kernels one by one (quantize_rows_q8
 * before each product, qgemm_vnni_few_<T> / few3, rmsnorm, silu_mul). */
__kernel __attribute__ ((reqd_work_group_size (1, 1, 1)))
void decode_rows_out (__global float *x, __global float *xn, __global const float *attn, __global float *gate,
    __global float *up, __global const float *ffn_norm,
    __global const uchar *wo, __global const uchar *wg, __global const uchar *wu, __global const uchar *wd,
    __global const float *bo, __global const float *bg, __global const float *bu, __global const float *bd,
    int biases, int to, int tg, int tu, int td, int g_o, int g_gu, int g_d, __global uchar *scratch,
    int M, int D, int QD, int I, float eps, __global volatile int *sync)
{
  const int nwg = get_num_groups (0);
  dl_quantize_rows (sync, 0, attn, M, QD, g_o, scratch, DL_D_OFF (M, QD), DL_S_OFF (M, QD), nwg);
  {
    const DlProduct o[1] = { { wo, bo, x, D / 16, to, (biases >> 3) & 1, 1 } };
    dl_products_rows (sync, 1, o, 1, M, QD, scratch, DL_D_OFF (M, QD), DL_S_OFF (M, QD), nwg);
  }
  dl_norm_rows (sync, 2, x, xn, ffn_norm, 0, 0, M, D, eps);
  dl_quantize_rows (sync, 3, xn, M, D, g_gu, scratch, DL_D_OFF (M, D), DL_S_OFF (M, D), nwg);
  {
    const DlProduct o[2] = { { wg, bg, gate, I / 16, tg, (biases >> 4) & 1, 0 },
      { wu, bu, up, I / 16, tu, (biases >> 5) & 1, 0 } };
    dl_products_rows (sync, 4, o, 2, M, D, scratch, DL_D_OFF (M, D), DL_S_OFF (M, D), nwg);
  }
  dl_silu_rows (sync, 5, gate, up, M, I);
  dl_quantize_rows (sync, 6, gate, M, I, g_d, scratch, DL_D_OFF (M, I), DL_S_OFF (M, I), nwg);
  {
    const DlProduct o[1] = { { wd, bd, x, D / 16, td, (biases >> 6) & 1, 1 } };
    dl_products_rows (sync, 7, o, 1, M, I, scratch, DL_D_OFF (M, I), DL_S_OFF (M, I), nwg);
  }
  dl_finish (sync, nwg, DL_SYNC_INTS);
}
#endif /* VTP_X86_INT8 */
#endif /* KV_TYPE == 0 */

/* The layer's decode step for one row at position @pos:
 *   xn = rmsnorm (x) attn_norm; q | k | v = xn Wq | Wk | Wv (k, v into kn, vn
 *   at @kv_off: an F32 cache's row pos, or F32 rows copied into the cache
 *   (@store) after RoPE); RoPE on q, k (angles of row 0 of @rope);
 *   attn = attention over cache rows 0 .. pos (grouped with @gqa);
 *   x += attn Wo; xn = rmsnorm (x) ffn_norm; gate | up = xn Wg | Wu;
 *   gate = silu (gate) up; x += gate Wd;
 *   with @hnp panels of a head (the model's last layer in decode_token):
 *   xn = rmsnorm (x) hnorm; logits = xn Wh.
 * OPT's layer with @opt: LayerNorms (their biases an_b, fn_b), no RoPE,
 *   and a plain MLP: gate = relu (xn Wg); x += gate Wd (Wu unused).
 * Weights' type codes t* (DL_TYPE_* or vnni_type_code), int8 groups g_*
 * (blocks of 32 per x scale: 1, or 8 for the K-quants); biases b* where bit
 * i of @biases is set (q, k, v, o, gate, up, down: bits 0-6). @sync: the
 * layer's DL_SYNC_INTS counters. xq .. dx: the work-item's int8 copy of x;
 * @scratch: the attention's local float. */
inline void DL_NAME (dl_layer) (__global float *x, __global float *xn, __global float *q,
    __global float *kn, __global float *vn, int kv_off, int store,
    __global DL_T *kc, __global DL_T *vc, __global float *attn, __global float *gate, __global float *up,
    __global float *scores, __global const float *rope, int opt, const DlWeights *lw,
    __global const float *hnorm, __global const uchar *wh, __global float *logits, int hnp, int th, int g_h,
    int D, int I, int H, int Hkv, int d, int pos, float eps, float scale, int interleaved, int gqa,
    __global volatile int *sync, int nwg, int *xq, int *xs, int *xm, float *dx, __local float *scratch)
{
  const int QD = H * d, KD = Hkv * d, nk = pos + 1, rep = H / Hkv;
  int t;

  /* 0: the attention's norm */
  dl_norm_rows (sync, 0, x, xn, lw->attn_norm, lw->an_b, opt, 1, D, eps);
  /* The four products (steps 1, 5, 7, 9) and the head's (11), each after
   * the steps before it, through one call of dl_products: PoCL inlines
   * every call, each with all the types' panel code, so four calls made an
   * object of 834 KB against 142 KB, and its first compile 34 s (of a cold
   * start's 55 on the 1.1B Q4_K_M) against 2.4. (A switch over the steps
   * in this loop failed an assertion in PoCL 3.1's parallel-region pass.) */
  for (int s = 1; s < (hnp > 0 ? 12 : 10); s += s == 1 ? 4 : 2) {
    DlProduct o[3];
    if (s == 5) {
      /* 2: RoPE on the row's q and k (none for OPT) */
      if (!opt)
        dl_rope_rows (sync, 2, q, kn + kv_off, rope, 1, H, Hkv, d, interleaved, nwg);
      /* 3: the new key and value into an F16 / Q8_0 cache, in Hkv ranges */
      if (store) {
        const int unit = KV_TYPE == 2 ? 32 : 1, units = KD / unit;
        while ((t = dl_take1 (sync, 3, Hkv)) >= 0) {
          for (int u = t * units / Hkv; u < (t + 1) * units / Hkv; u++)
            DL_NAME (kv_write_at) (kn, vn, (size_t) u * unit, kc, vc, (size_t) pos * KD + (size_t) u * unit);
          dl_done (&sync[7], 1);
        }
        dl_wait (&sync[7], Hkv);
      }
      /* 4: attention, a kv head's query heads (gqa) or a head a task */
      while ((t = dl_take1 (sync, 4, gqa ? Hkv : H)) >= 0) {
        if (gqa)
          DL_NAME (attend_group) (q + (size_t) t * rep * d, t * rep, (t + 1) * rep, kc, vc, (size_t) t * d, KD, nk, d,
              scale, scores + (size_t) t * rep * nk, nk, attn + (size_t) t * rep * d, scratch);
        else
          DL_NAME (attend_row) (q + (size_t) t * d, kc, vc, (size_t) (t / rep) * d, (size_t) (t / rep) * d, KD, nk,
              d, scale, 0, scores + (size_t) t * nk, attn + (size_t) t * d, 0, 1, scratch);
        dl_done (&sync[9], 1);
      }
      dl_wait (&sync[9], gqa ? Hkv : H);
    } else if (s == 7)          /* 6: the MLP's norm */
      dl_norm_rows (sync, 6, x, xn, lw->ffn_norm, lw->fn_b, opt, 1, D, eps);
    else if (s == 9) {
      /* 8: gate = silu (gate) up (OPT: relu (gate)), in 8 ranges */
      while ((t = dl_take1 (sync, 8, 8)) >= 0) {
        for (int i = t * I / 8; i < (t + 1) * I / 8; i++)
          if (opt)
            relu_at (gate, i);
          else
            silu_mul_at (gate, up, i);
        dl_done (&sync[17], 1);
      }
      dl_wait (&sync[17], 8);
    } else if (s == 11)         /* 10: the head's norm */
      dl_norm_rows (sync, 10, x, xn, hnorm, 0, 0, 1, D, eps);
    /* 1: q | k | v of xn; 5: x += attn Wo; 7: gate | up of xn (OPT: fc1
     * alone, into gate); 9: x += gate Wd; 11: logits = xn Wh. Each: its
     * products, input, the input's width and the work-group count of its
     * panels. */
    int n_o = 1, K = D, groups;
    __global float *src = xn;
    if (s == 1) {
      o[0] = dl_product (lw, 0, q, QD / 16, 0);
      o[1] = dl_product (lw, 1, kn + kv_off, KD / 16, 0);
      o[2] = dl_product (lw, 2, vn + kv_off, KD / 16, 0);
      n_o = 3;
      groups = lw->groups[0];
    } else if (s == 5) {
      o[0] = dl_product (lw, 3, x, D / 16, 1);
      src = attn;
      K = QD;
      groups = lw->groups[1];
    } else if (s == 7) {
      o[0] = dl_product (lw, 4, gate, I / 16, 0);
      o[1] = dl_product (lw, 5, up, I / 16, 0);
      n_o = opt ? 1 : 2;
      groups = lw->groups[2];
    } else if (s == 9) {
      o[0] = dl_product (lw, 6, x, D / 16, 1);
      src = gate;
      K = I;
      groups = lw->groups[3];
    } else {
      o[0] = (DlProduct) { wh, 0, logits, hnp, th, 0, 0 };
      groups = g_h;
    }
    dl_products (sync, s, o, n_o, src, K, groups, nwg, xq, xs, xm, dx);
  }
}

/* One layer's decode step (dl_layer, no head): a launch a layer. @sync:
 * DL_SYNC_INTS counters, zero at the start, zero again at the end. One
 * work-item a work-group, as many work-groups as compute units. */
__kernel __attribute__ ((reqd_work_group_size (1, 1, 1)))
void DL_NAME (decode_layer) (__global float *x, __global float *xn, __global float *q,
    __global float *kn, __global float *vn, int kv_off, int store,
    __global DL_T *kc, __global DL_T *vc, __global float *attn, __global float *gate, __global float *up,
    __global float *scores, __global const float *rope,
    __global const float *attn_norm, __global const float *ffn_norm, __global const float *an_b,
    __global const float *fn_b, int opt,
    __global const uchar *wq, __global const uchar *wk, __global const uchar *wv, __global const uchar *wo,
    __global const uchar *wg, __global const uchar *wu, __global const uchar *wd,
    __global const float *bq, __global const float *bk, __global const float *bv, __global const float *bo,
    __global const float *bg, __global const float *bu, __global const float *bd, int biases,
    int tq, int tk, int tv, int to, int tg, int tu, int td, int g_qkv, int g_o, int g_gu, int g_d,
    int D, int I, int H, int Hkv, int d, int pos, float eps, float scale, int interleaved, int gqa,
    __global volatile int *sync)
{
  const int nwg = get_num_groups (0);
  int xq[DL_X_K / 4], xs[DL_X_K / 16], xm[DL_X_K / 64];
  float dx[DL_X_K / 32];
  __local float scratch[1];
  const uint start = dl_stamp ();

  const DlWeights lw = { attn_norm, ffn_norm, an_b, fn_b, { wq, wk, wv, wo, wg, wu, wd }, { bq, bk, bv, bo, bg, bu, bd },
    biases, { tq, tk, tv, to, tg, tu, td }, { g_qkv, g_o, g_gu, g_d } };

  DL_NAME (dl_layer) (x, xn, q, kn, vn, kv_off, store, kc, vc, attn, gate, up, scores, rope, opt, &lw, 0, 0, 0, 0, 0,
      0, D, I, H, Hkv, d, pos, eps, scale, interleaved, gqa, sync, nwg, xq, xs, xm, dx, scratch);
  if (DL_TRACE)
    printf ("vtp-dl-launch wi=%d start=%u end=%u\n", (int) get_group_id (0), start, dl_stamp ());
  dl_finish (sync, nwg, DL_SYNC_INTS);
}

/* A whole decode step of a Llama model in one launch: its @n_layers layers
 * (dl_layer; each layer's weights, caches and type codes in a row of
 * @layers, DL_SLOTS values: vtp-decode-step.c's table) and, with @hnp
 * panels, the head after the last (its norm @hnorm, weights @wh of type
 * code @th, x's int8 groups @g_h; logits into @logits from @logits_off).
 * The F32 cache's rows (@store 0) are the layer's caches from row @pos;
 * @kn, @vn the F16 / Q8_0 caches' new rows (@store 1). With @inv_freq,
 * row 0 of @rope gets the position's angles first (else it holds them).
 * @sync: DL_SYNC_INTS counters a layer, zero at the start and again at the
 * end. Why: the launches between layers cost ~20 us each plus a late
 * start of the second work-item (docs/performance.md "2026-12-07, fifth
 * session"). */
__kernel __attribute__ ((reqd_work_group_size (1, 1, 1)))
void DL_NAME (decode_token) (__global const ulong *layers, int n_layers, __global float *x, __global float *xn,
    __global float *q, __global float *kn, __global float *vn, int store, __global float *attn,
    __global float *gate, __global float *up, __global float *scores, __global float *rope,
    __global const float *inv_freq, __global const float *hnorm, __global const uchar *wh, __global float *logits,
    int logits_off, int hnp, int th, int g_h, int D, int I, int H, int Hkv, int d, int pos, float eps, float scale, int interleaved, int gqa,
    __global volatile int *sync)
{
  const int nwg = get_num_groups (0), KD = Hkv * d;
  int xq[DL_X_K / 4], xs[DL_X_K / 16], xm[DL_X_K / 64];
  float dx[DL_X_K / 32];
  __local float scratch[1];
  const uint start = dl_stamp ();

  /* 12 (of the first layer's counters): the position's RoPE angles into
   * row 0 of @rope from @inv_freq (vtp_op_rope_angles' values), in 2 ranges */
  if (inv_freq) {
    int t;
    while ((t = dl_take1 (sync, 12, 2)) >= 0) {
      for (int j = t * d / 4; j < (t + 1) * d / 4; j++)
        rope_angle_at (rope, d, pos, inv_freq, j);
      dl_done (&sync[25], 1);
    }
    dl_wait (&sync[25], 2);
  }
  for (int l = 0; l < n_layers; l++) {
    __global const ulong *r = layers + (size_t) DL_SLOTS * l;
    __global DL_T *kc = (__global DL_T *) r[DL_SLOT_KC], *vc = (__global DL_T *) r[DL_SLOT_VC];
    const int last = l == n_layers - 1;
    const DlWeights lw = dl_weights_of_row (r);
    DL_NAME (dl_layer) (x, xn, q, store ? kn : (__global float *) kc, store ? vn : (__global float *) vc,
        store ? 0 : pos * KD, store, kc, vc, attn, gate, up, scores, rope, 0, &lw, hnorm, wh, logits + logits_off,
        last ? hnp : 0, th, g_h, D, I, H, Hkv, d, pos, eps, scale, interleaved, gqa,
        sync + (size_t) DL_SYNC_INTS * l, nwg, xq, xs, xm, dx, scratch);
  }
  if (DL_TRACE)
    printf ("vtp-dl-launch wi=%d start=%u end=%u\n", (int) get_group_id (0), start, dl_stamp ());
  dl_finish (sync, nwg, DL_SYNC_INTS * n_layers);
}

#ifdef VTP_X86_INT8
/* decode_rows_token's streams: stream i's row of 2 n_layers + 2 values at
 * @streams_at in the table, its caches kc, vc of each layer, then its
 * scores' scratch and its logits (vtp-decode-step.c's vtp_op_decode_rows_token) */
#define DL_STREAM_SLOTS(n_layers) (2 * (n_layers) + 2)
#define DL_POS_ARGS(i) int pos##i

/* A whole decode step of @M streams of a Llama model in one launch
 * (batched decoding, vtp-llama-batch.c; int8 weights): stream i's row i
 * of x .. up, its position pos<i>, its caches and scratch in the table.
 * First the streams' RoPE angles into rows 0 .. M - 1 of @rope (as
 * vtp_op_rope_angles, from @inv_freq); then each layer as decode_rows_in,
 * the streams' cache stores and attention (kv_append4,
 * attention_streams4: kv_write_at, attend_group or attend_row) and
 * decode_rows_out; with @hnp panels, the head (xn = rmsnorm (x) hnorm,
 * logits = xn Wh into @logits' rows, then each row into its stream's
 * logits). The same bits as those launches one by one. @sync: DL_SYNC_INTS
 * counters a layer and one more set (the RoPE angles, the head, the
 * copies), zero at the start and again at the end. */
__kernel __attribute__ ((reqd_work_group_size (1, 1, 1)))
void DL_NAME (decode_rows_token) (__global const ulong *table, int n_layers, int streams_at, int M,
    __global float *x, __global float *xn, __global float *q, __global float *k, __global float *v,
    __global float *attn, __global float *gate, __global float *up, __global float *rope,
    __global const float *inv_freq, __global uchar *scratch, __global const float *hnorm,
    __global const uchar *wh, __global float *logits, int hnp, int th, int g_h,
    int D, int I, int H, int Hkv, int d, float eps, float scale, int interleaved, int gqa,
    __global volatile int *sync, DL_POS_ARGS (0), DL_POS_ARGS (1), DL_POS_ARGS (2), DL_POS_ARGS (3),
    DL_POS_ARGS (4), DL_POS_ARGS (5), DL_POS_ARGS (6), DL_POS_ARGS (7), DL_POS_ARGS (8), DL_POS_ARGS (9),
    DL_POS_ARGS (10), DL_POS_ARGS (11))
{
  const int pos[12] = { pos0, pos1, pos2, pos3, pos4, pos5, pos6, pos7, pos8, pos9, pos10, pos11 };
  const int nwg = get_num_groups (0), QD = H * d, KD = Hkv * d, rep = H / Hkv;
  const int SS = DL_STREAM_SLOTS (n_layers), kv_unit = KV_TYPE == 2 ? 32 : 1;
  /* each product step's input quantization and products: their steps */
  const int q_step[5] = { 1, 6, 9, 12, 3 }, p_step[5] = { 2, 7, 10, 13, 4 };
  __global const ulong *streams = table + streams_at;
  __global volatile int *hs = sync + (size_t) DL_SYNC_INTS * n_layers;   /* the one more set */
  __local float lscratch[1];
  int t;

  /* hs 0: the streams' RoPE angles, a stream a task */
  while ((t = dl_take1 (hs, 0, M)) >= 0) {
    for (int j = 0; j < d / 2; j++)
      rope_angle_at (rope + (size_t) t * d, d, pos[t], inv_freq, j);
    dl_done (&hs[1], 1);
  }
  dl_wait (&hs[1], M);
  /* The layers' four products each (and the head's after the last), each
   * after the steps before it, through one call of dl_quantize_rows and of
   * dl_products_rows (PoCL inlines every call: decode_layer's note), in
   * one loop (a loop over the layers around one over the products made
   * PoCL's first compile of this kernel ~90 s) */
  for (int ps = 0; ps < 4 * n_layers + (hnp > 0); ps++) {
    const int l = min (ps / 4, n_layers - 1), s = ps < 4 * n_layers ? ps % 4 : 4;
    const DlWeights lw = dl_weights_of_row (table + (size_t) DL_SLOTS * l);
    __global volatile int *sy = s == 4 ? hs : sync + (size_t) DL_SYNC_INTS * l;
    DlProduct o[3];
    int n_o = 1, K = D, groups;
    __global float *src = xn;
    if (s == 0)                 /* 0: the attention's norm */
      dl_norm_rows (sy, 0, x, xn, lw.attn_norm, 0, 0, M, D, eps);
    else if (s == 1) {
      dl_rope_rows (sy, 3, q, k, rope, M, H, Hkv, d, interleaved, nwg);      /* 3: RoPE */
      /* 4: each stream's key and value into its caches, a stream a task */
      while ((t = dl_take1 (sy, 4, M)) >= 0) {
        __global DL_T *kc = (__global DL_T *) streams[(size_t) t * SS + 2 * l];
        __global DL_T *vc = (__global DL_T *) streams[(size_t) t * SS + 2 * l + 1];
        for (int u = 0; u < KD / kv_unit; u++)
          DL_NAME (kv_write_at) (k, v, (size_t) t * KD + (size_t) u * kv_unit, kc, vc,
              (size_t) pos[t] * KD + (size_t) u * kv_unit);
        dl_done (&sy[9], 1);
      }
      dl_wait (&sy[9], M);
      /* 5: attention, a (stream, kv head) (gqa) or a (stream, head) a task */
      const int per = gqa ? Hkv : H;
      while ((t = dl_take1 (sy, 5, M * per)) >= 0) {
        const int i = t / per, h = t % per, nk = pos[i] + 1;
        __global const DL_T *kc = (__global const DL_T *) streams[(size_t) i * SS + 2 * l];
        __global const DL_T *vc = (__global const DL_T *) streams[(size_t) i * SS + 2 * l + 1];
        __global float *sc = (__global float *) streams[(size_t) i * SS + 2 * n_layers];
        if (gqa)
          DL_NAME (attend_group) (q + (size_t) i * QD + (size_t) h * rep * d, h * rep, (h + 1) * rep, kc, vc,
              (size_t) h * d, KD, nk, d, scale, sc + (size_t) h * rep * nk, nk, attn + (size_t) i * QD
              + (size_t) h * rep * d, lscratch);
        else
          DL_NAME (attend_row) (q + (size_t) i * QD + h * d, kc, vc, (size_t) (h / rep) * d, (size_t) (h / rep) * d,
              KD, nk, d, scale, 0, sc + (size_t) h * nk, attn + (size_t) i * QD + h * d, 0, 1, lscratch);
        dl_done (&sy[11], 1);
      }
      dl_wait (&sy[11], M * per);
    } else if (s == 2)        /* 8: the MLP's norm */
      dl_norm_rows (sy, 8, x, xn, lw.ffn_norm, 0, 0, M, D, eps);
    else if (s == 3)            /* 11: gate = silu (gate) up */
      dl_silu_rows (sy, 11, gate, up, M, I);
    else                    /* hs 2: the head's norm */
      dl_norm_rows (sy, 2, x, xn, hnorm, 0, 0, M, D, eps);
    if (s == 0) {
      o[0] = dl_product (&lw, 0, q, QD / 16, 0);
      o[1] = dl_product (&lw, 1, k, KD / 16, 0);
      o[2] = dl_product (&lw, 2, v, KD / 16, 0);
      n_o = 3;
    } else if (s == 1) {
      o[0] = dl_product (&lw, 3, x, D / 16, 1);
      src = attn;
      K = QD;
    } else if (s == 2) {
      o[0] = dl_product (&lw, 4, gate, I / 16, 0);
      o[1] = dl_product (&lw, 5, up, I / 16, 0);
      n_o = 2;
    } else if (s == 3) {
      o[0] = dl_product (&lw, 6, x, D / 16, 1);
      src = gate;
      K = I;
    } else
      o[0] = (DlProduct) { wh, 0, logits, hnp, th, 0, 0 };
    /* x's int8 groups: q | k | v's, o's, gate | up's, down's, the head's */
    groups = s < 4 ? lw.groups[s] : g_h;
    dl_quantize_rows (sy, q_step[s], src, M, K, groups, scratch, DL_D_OFF (M, K), DL_S_OFF (M, K), nwg);
    dl_products_rows (sy, p_step[s], o, n_o, M, K, scratch, DL_D_OFF (M, K), DL_S_OFF (M, K), nwg);
  }
  /* hs 1: each row of the logits into its stream's, a stream a task */
  while (hnp > 0 && (t = dl_take1 (hs, 1, M)) >= 0) {
    __global float *out = (__global float *) streams[(size_t) t * SS + 2 * n_layers + 1];
    for (int i = 0; i < 16 * hnp; i++)
      out[i] = logits[(size_t) t * 16 * hnp + i];
    dl_done (&hs[3], 1);
  }
  dl_wait (&hs[3], hnp > 0 ? M : 0);
  dl_finish (sync, nwg, DL_SYNC_INTS * (n_layers + 1));
}
#undef DL_POS_ARGS
#endif /* VTP_X86_INT8 */

#undef DL_T
#undef DL_NAME
#endif /* VTP_POCL_CPU */
#undef KV_TYPE
