/* test-kernel-isas: the kernels' program compiles for the x86 instruction
 * sets this machine may lack. PoCL builds the program for the host CPU
 * only, so a session on a CPU without AVX-512 never compiles quant.cl's
 * VNNI branches (nor one with it the AVX2 ones) until the suite runs on
 * such a CPU; here clang-15 (PoCL's own compiler, a dependency of Debian's
 * libpocl2) compiles the same source, with the defines vtp-device.c would
 * pass on each machine, to LLVM IR: code generation, where a builtin that
 * the target cannot select is an error. At -O1: at -O0 the inline helpers
 * are not generated, and an AVX-512 builtin in the AVX2 branch passed.
 * Skipped where clang-15 is not installed. */
#include <glib.h>
#include <glib/gstdio.h>
#include "vtp-device.h"

typedef struct {
  const char *name, *march, *defines;
} Isa;

static const Isa isas[] = {
  /* Zen 4 (AVX-512 with VNNI, VBMI and BF16) */
  { "avx512-vnni", "skylake-avx512",
    "-DVTP_X86_AVX512 -DVTP_X86_INT8 -DVTP_X86_VNNI -DVTP_X86_VBMI -DVTP_X86_BF16 -DVTP_POCL_CPU" },
  /* Intel Xeon with AMX (no VBMI path taken: VTP_IQ_LOOKUP=gather too) */
  { "avx512-amx", "skylake-avx512",
    "-DVTP_X86_AVX512 -DVTP_X86_INT8 -DVTP_X86_VNNI -DVTP_X86_BF16 -DVTP_X86_AMX -DVTP_X86_AMX_BF16 "
    "-DVTP_POCL_CPU -DVTP_CPU_INTEL" },
  /* AVX-512 with VTP_QUANT_DOT=avx2 */
  { "avx512-as-avx2", "skylake-avx512", "-DVTP_X86_AVX512 -DVTP_X86_INT8 -DVTP_POCL_CPU" },
  /* Zen 2 / Zen 3, Intel client CPUs */
  { "avx2", "haswell", "-DVTP_X86_INT8 -DVTP_POCL_CPU" },
  /* VTP_QUANT_DOT=float, or an x86 CPU without AVX2 */
  { "no-int8", "x86-64", "-DVTP_POCL_CPU" },
};

static void
test_compiles (gconstpointer data)
{
  const Isa *isa = data;
  g_autofree char *clang = g_find_program_in_path ("clang-15");
  g_autofree char *src = vtp_device_kernel_sources ();
  g_autofree char *dir = NULL, *path = NULL, *march = NULL, *out = NULL, *err = NULL;
  g_auto (GStrv) defines = g_strsplit (isa->defines, " ", -1);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  gint status = 0;

  if (!clang) {
    g_test_skip ("clang-15 is not installed");
    return;
  }
  dir = g_dir_make_tmp ("vtp-kernel-isas-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "program.cl", NULL);
  g_assert_true (g_file_set_contents (path, src, -1, &error));
  march = g_strdup_printf ("-march=%s", isa->march);
  for (const char *const *a = (const char *const[]) { clang, "-x", "cl", "-cl-std=CL1.2", "-Xclang",
           "-finclude-default-header", "-target", "x86_64-unknown-linux-gnu", march, "-w",
           "-D__OPENCL_VERSION__=120", "-O1", "-c", "-emit-llvm", "-o", "/dev/null", NULL }; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  for (guint i = 0; defines[i]; i++)
    if (*defines[i])
      g_ptr_array_add (argv, defines[i]);
  g_ptr_array_add (argv, path);
  g_ptr_array_add (argv, NULL);
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  g_unlink (path);
  g_rmdir (dir);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("the kernels do not compile for %s (-march=%s %s):\n%s", isa->name, isa->march, isa->defines, err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (isas); i++) {
    g_autofree char *name = g_strdup_printf ("/kernel-isas/%s", isas[i].name);
    g_test_add_data_func (name, &isas[i], test_compiles);
  }
  return g_test_run ();
}
