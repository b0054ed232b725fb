/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The CUDA backend table (only compiled with CUDA; vg-device.c is the one caller). */
#pragma once

#include <glib.h>

#include "vg-backend.h"

/* Initialise the CUDA backend on first use (device 0, stream, cuBLAS, workspace) and return
 * its table; NULL with an error when there is no usable device. Thread-safe; a failure is
 * remembered, so later calls fail at once with the same message. */
const VgBackend *vg_cuda_backend_get (GError **error);
