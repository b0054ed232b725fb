/* SPDX-License-Identifier: GPL-3.0-or-later */
/* C interface of the CUDA backend (compiled by nvcc, called from C). */
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of CUDA devices; 0 with a reason when there is no driver or device. */
int vg_cuda_device_count (char *why, size_t why_len);

/* C = A (M x K) * B (K x N), all row-major, computed on device 0 with cuBLAS.
 * Returns 0 on success, -1 with a message in err on any CUDA or cuBLAS failure. */
int vg_cuda_sgemm (float *c, const float *a, const float *b, int m, int n, int k,
                   char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
