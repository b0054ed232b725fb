/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the files of engine/data; not part of the engine's API. */
#pragma once

#include <glib.h>

/* Called for each index in [0, n) by one of the threads (0 <= thread < n_threads). */
typedef void (*VgParallelFunc) (int index, int thread, gpointer user_data);

/* Run func over [0, n) on n_threads threads (the caller's included), handing out indices
 * in increasing order from a shared counter; returns when all are done. n_threads <= 0
 * means one per processor. Results must not depend on which thread ran an index. */
void vg_parallel_for (int n, int n_threads, VgParallelFunc func, gpointer user_data);

/* The thread count vg_parallel_for() will use for a request of n_threads (<= 0: all). */
int vg_parallel_threads (int n_threads, int n);

/* The error of the lowest failing index of a vg_parallel_for(), so that what is reported
 * does not depend on which thread got there first. Zero-initialised, then
 * vg_first_error_init(). */
typedef struct {
  GMutex lock;
  GError *error;
  int index;
  int failed;           /* atomic: some index failed (for workers that stop early) */
} VgFirstError;

void vg_first_error_init (VgFirstError *first);
/* From a worker: keeps error (taking it) if index is the lowest failing one yet. */
void vg_first_error_offer (VgFirstError *first, int index, GError *error);
/* After the loop: FALSE with the kept error moved into error, TRUE if none failed. */
gboolean vg_first_error_finish (VgFirstError *first, GError **error);
