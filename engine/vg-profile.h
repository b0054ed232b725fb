/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A profiling backend for the benchmarks: every op entry of the inner backend, timed.
 * One profiled backend at a time, not thread-safe (the benchmarks call ops from one
 * thread); the ops themselves may use threads as ever. */
#pragma once

#include <stdio.h>

#include <glib.h>

#include "vg-backend.h"

G_BEGIN_DECLS

/* The inner backend with its op entries timed (synchronize: call inner->synchronize
 * before reading the clock, for a device whose ops are queued). Recording is off until
 * vg_profile_set_recording (TRUE). The table stays valid until the next call. */
const VgBackend *vg_profile_backend (const VgBackend *inner, gboolean synchronize);
void vg_profile_set_recording (gboolean recording);
/* Print what was recorded over n_steps steps that took total_s (per op, then the 30
 * slowest op and shape pairs, per step), and clear it. */
void vg_profile_report (FILE *out, const char *title, int n_steps, double total_s);
/* The FLOPs and calls recorded for op (a row's first word, "conv2d_dilated_fwd") since the
 * last report, over all its shapes; 0 where none. */
double vg_profile_recorded_flops (const char *op, long *calls);

G_END_DECLS
