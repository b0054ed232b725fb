/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Data-parallel runs over MPI: several processes ("ranks", one per node or socket), each
 * training on its shard of every global batch, which sum what the global batch shares.
 *
 * One communicator (MPI_COMM_WORLD), one thread calling MPI (MPI_THREAD_FUNNELED: OpenMP
 * and the loader's threads never do). Every collective is called by every rank in the
 * same order, or the run hangs; so an error that one rank meets alone must end the whole
 * run: vg_dist_abort (), and a rank that dies is reported by mpirun, which then
 * kills the others (MPI_ERRORS_ARE_FATAL, Open MPI's default). The training resumes from
 * its last checkpoint with any number of ranks.
 *
 * Built without MPI (meson found no `mpi` dependency), vg_dist_init fails with a message
 * saying so, and the other functions act as the single process they then are. This is the
 * only file with `#if VG_HAVE_MPI`. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Whether this build has MPI. */
gboolean vg_dist_built (void);

/* Join the run that the launcher (mpirun, srun) started. Fails (G_IO_ERROR_NOT_SUPPORTED)
 * in a build without MPI, or when no launcher started this process (G_IO_ERROR_FAILED:
 * an MPI singleton would train alone while believing it is distributed). Once only. */
gboolean vg_dist_init (GError **error);
/* Leave the run (MPI_Finalize); nothing after. No-op when vg_dist_init did not succeed. */
void vg_dist_finalize (void);
/* Whether vg_dist_init succeeded (and vg_dist_finalize was not called). */
gboolean vg_dist_active (void);

/* This process's rank (0 .. size - 1) and the number of ranks: 0 and 1 when not active. */
int vg_dist_rank (void);
int vg_dist_size (void);

/* In place, over all ranks (MPI_Allreduce with MPI_SUM): every rank gets the sum. Large
 * buffers go in pieces of at most 2^30 elements (MPI counts are int). */
void vg_dist_sum_floats (float *values, size_t n);
void vg_dist_sum_doubles (double *values, size_t n);
void vg_dist_sum_uint64 (uint64_t *values, size_t n);
/* Rank root's bytes to every rank (MPI_Bcast). */
void vg_dist_broadcast (void *data, size_t bytes, int root);
void vg_dist_barrier (void);
/* Whether ok is TRUE on every rank (a collective: every rank must call it). A FALSE result
 * means that every rank now knows the run has failed and returns from it in step, so that
 * none has to be killed: vg_dist_stopped_together () then says so. */
gboolean vg_dist_all (gboolean ok);
gboolean vg_dist_stopped_together (void);
/* Seconds spent in the collectives above since vg_dist_init (the communication's share of
 * a step, for benchmarks). */
double vg_dist_seconds (void);

/* End every rank of the run: prints "visage: rank R of N: message" on stderr and leaves
 * the process with status at once, without MPI_Finalize; mpirun then reports the rank and
 * its status and stops the others. Does not return when active; returns when not (a
 * single process just goes on to fail normally). */
void vg_dist_abort (int status, const char *message);
