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
