/* SPDX-License-Identifier: GPL-3.0-or-later */
/* VG_HOST_DEVICE marks the static inline functions of the headers that nn/ (C) and cuda/
 * (nvcc) both include, so that the CPU and the GPU run one copy of the same arithmetic. */
#pragma once

#ifdef __CUDACC__
#define VG_HOST_DEVICE __host__ __device__
#else
#define VG_HOST_DEVICE
#endif
