/* vtp-fault.h: fault injection in the OpenCL layer (hardening #14): makes a
 * device buffer allocation, the kernel program build, a kernel launch, a
 * copy to, from or between device buffers, a wait for the queue, the
 * creation of a device's context or queue, or the lookup of the platforms
 * and their devices fail as if the driver (or the ICD loader) had
 * refused it, to check that the failure reaches
 * the element as an error naming it, leaks nothing, and that the pipeline
 * starts again once the fault is gone (tests/test-fault.c).
 *
 * From the environment, read once, when the first device is asked for:
 *
 *   VTP_FAULT=alloc[:N]           the Nth buffer allocation fails
 *                                 (CL_MEM_OBJECT_ALLOCATION_FAILURE)
 *   VTP_FAULT=build[:N]           the Nth kernel program build fails
 *                                 (CL_BUILD_PROGRAM_FAILURE; no compiler runs)
 *   VTP_FAULT=enqueue[:N]         the Nth kernel launch fails (CL_OUT_OF_RESOURCES)
 *   VTP_FAULT=enqueue:KERNEL[:N]  the Nth launch of kernel KERNEL fails
 *   VTP_FAULT=copy[:N]            the Nth copy fails (CL_OUT_OF_RESOURCES): an
 *                                 upload or read-back (clEnqueueWrite/ReadBuffer),
 *                                 a map or unmap, a device-side buffer copy
 *   VTP_FAULT=finish[:N]          the Nth wait for the queue (clFinish) fails
 *                                 (CL_OUT_OF_RESOURCES)
 *   VTP_FAULT=context[:N]         the Nth context or command queue creation, when
 *                                 a device is opened, fails (CL_DEVICE_NOT_AVAILABLE
 *                                 for a context, CL_OUT_OF_RESOURCES for a queue)
 *   VTP_FAULT=lost[:N]            the device is lost at the Nth launch, copy or
 *                                 wait: that one and every one after fails
 *                                 (CL_DEVICE_NOT_AVAILABLE), as after a GPU
 *                                 reset, until a device is opened again
 *   VTP_FAULT=platform[:N]        the Nth lookup of the OpenCL platforms or of a
 *                                 platform's devices, when devices are listed,
 *                                 fails (CL_PLATFORM_NOT_FOUND_KHR: no ICD found;
 *                                 CL_DEVICE_NOT_FOUND: that platform has none)
 *
 * N counts from 1 (the default) from the moment the fault is armed (for
 * the environment, the start of the process), over every thread. A fault
 * fires once and is then spent: what follows runs normally. A value that
 * does not parse makes every vtp_device_get fail, naming it.
 *
 * From a test, vtp_fault_set arms (or replaces, or with VTP_FAULT_NONE
 * clears) the fault at any moment, without touching the environment. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define VTP_FAULT_ENV "VTP_FAULT"

typedef enum {
  VTP_FAULT_NONE,
  VTP_FAULT_ALLOC,      /* a device buffer allocation */
  VTP_FAULT_BUILD,      /* the build of the kernel program */
  VTP_FAULT_ENQUEUE,    /* a kernel launch */
  VTP_FAULT_COPY,       /* a copy: host to device, device to host, map, unmap, device to device */
  VTP_FAULT_FINISH,     /* a wait for the queue to drain */
  VTP_FAULT_CONTEXT,    /* a context or command queue created when a device opens */
  VTP_FAULT_PLATFORM,   /* the platform list, or one platform's device list */
  VTP_FAULT_LOST,       /* the device, from a launch, copy or wait on, until a device opens */
  VTP_FAULT_N_KINDS,
} VtpFaultKind;

/* Arms a fault: the @nth (1 = the next; 0 is taken as 1) event of @kind
 * from now fails, once; for VTP_FAULT_ENQUEUE with @kernel, the @nth launch
 * of that kernel. Replaces the fault armed before; VTP_FAULT_NONE disarms.
 * Any thread, any time. */
void vtp_fault_set (VtpFaultKind kind, guint nth, const char *kernel);
/* Arms the fault a VTP_FAULT value describes ("" or "none": none). */
gboolean vtp_fault_set_from_string (const char *spec, GError **error);
/* TRUE while a fault is armed and has not fired yet. */
gboolean vtp_fault_armed (void);
/* The kernel an armed enqueue fault waits for (a copy), NULL for none. */
char *vtp_fault_armed_kernel (void);
/* Faults injected so far in this process. */
guint vtp_fault_fired (void);
/* Events of @kind seen so far in this process, failed or not (for a test
 * that counts a run's allocations or launches, then fails each in turn). */
guint64 vtp_fault_events (VtpFaultKind kind);

/* Reads $VTP_FAULT, the first time only; FALSE (and @error) when it does
 * not parse, every time. vtp_device_get calls it. */
gboolean vtp_fault_init (GError **error);

/* The hooks, for opencl/ only: each counts one event and returns TRUE when
 * that event must fail. */
gboolean vtp_fault_alloc (void);
gboolean vtp_fault_build (void);
gboolean vtp_fault_enqueue (const char *kernel);
gboolean vtp_fault_copy (void);
gboolean vtp_fault_finish (void);
gboolean vtp_fault_context (void);
gboolean vtp_fault_platform (void);
/* A launch, copy or wait: TRUE when the device is lost (it must then fail
 * with CL_DEVICE_NOT_AVAILABLE); call before that kind's own hook. */
gboolean vtp_fault_lost (void);
/* A device was opened: a lost one is left behind. */
void vtp_fault_device_opened (void);

G_END_DECLS
