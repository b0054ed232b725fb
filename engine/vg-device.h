/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Which compute devices this build and this machine offer. */
#pragma once

#include <stddef.h>

/* 1 when the engine was compiled with the CUDA backend. */
int vg_device_cuda_compiled (void);

/* Number of usable CUDA devices (0 without a build, a driver or a GPU).
 * When 0, a human-readable reason is written to why (if not NULL). */
int vg_device_cuda_count (char *why, size_t why_len);

/* Describe the available devices in one line, for --version and the About window. */
void vg_device_describe (char *out, size_t out_len);
