/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Which compute devices this build and this machine offer, and the backend for each. */
#pragma once

#include <stddef.h>

#include <glib.h>

#include "vg-backend.h"

/* 1 when the engine was compiled with the CUDA backend. */
int vg_device_cuda_compiled (void);

/* Number of usable CUDA devices (0 without a build, a driver or a GPU).
 * When 0, a human-readable reason is written to why (if not NULL). */
int vg_device_cuda_count (char *why, size_t why_len);

/* Describe the available devices in one line, for --version and the About window. */
void vg_device_describe (char *out, size_t out_len);

/* The CUDA backend on device 0, initialised on first use (stream, cuBLAS handle,
 * workspace). NULL with an error saying why when the build has no CUDA backend or there is
 * no usable driver or device. */
const VgBackend *vg_backend_cuda (GError **error);

/* The backend for a device name, never NULL for the three known names:
 * - "cpu": the CPU backend; why is "".
 * - "cuda": the CUDA backend; when CUDA is unusable, the CPU backend, and why says
 *   "CUDA was requested but is unavailable (<reason>); using the CPU".
 * - "auto" (or NULL): CUDA when usable (why ""), else the CPU, and why says
 *   "no usable CUDA device (<reason>); using the CPU", for a status line.
 * Any other name: NULL, and why names the choices. why may be NULL. */
const VgBackend *vg_backend_for_device (const char *name, char *why, size_t why_len);

/* The precision of the CUDA backend's matrix products, for benchmarks and logs: "FP32", or
 * "TF32" when VISAGE_CUDA_TF32=1 was set when the backend started; NULL when the CUDA
 * backend is not in use (not compiled or not initialised). */
const char *vg_backend_cuda_math_mode (void);
