/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Data-parallel runs over MPI (see vg-dist.h): a thin layer over MPI_COMM_WORLD. */
#define G_LOG_DOMAIN "visage-dist"

#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include <gio/gio.h>

#if VG_HAVE_MPI
#include <mpi.h>
#endif

#include "vg-dist.h"

/* MPI counts are int: pieces of at most this many elements. */
#define PIECE ((size_t) 1 << 30)

static gboolean active, stopped_together;
static int rank, size = 1;
static gint64 comm_us;

gboolean
vg_dist_built (void)
{
  return VG_HAVE_MPI;
}

gboolean
vg_dist_active (void)
{
  return active;
}

int
vg_dist_rank (void)
{
  return active ? rank : 0;
}

int
vg_dist_size (void)
{
  return active ? size : 1;
}

gboolean
vg_dist_stopped_together (void)
{
  return stopped_together;
}

double
vg_dist_seconds (void)
{
  return comm_us / 1e6;
}

/* Whether a launcher started this process: Open MPI's mpirun, PMI or PMIx (srun, other
 * MPIs). Without one MPI_Init makes a singleton of one rank. */
static gboolean
launched (void)
{
  static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK",
                                      "PMI_SIZE" };

  for (gsize i = 0; i < G_N_ELEMENTS (vars); i++)
    if (g_getenv (vars[i]) != NULL)
      return TRUE;
  return FALSE;
}

#if VG_HAVE_MPI

gboolean
vg_dist_init (GError **error)
{
  int provided = 0;

  g_return_val_if_fail (!active, FALSE);
  if (!launched ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "--distributed runs under an MPI launcher: mpirun -np N visage-cli ... "
                   "(or srun under Slurm); this process was started alone");
      return FALSE;
    }
  if (MPI_Init_thread (NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "MPI_Init_thread failed");
      return FALSE;
    }
  /* The default, said out loud: an MPI error (a peer gone) ends every rank. */
  MPI_Comm_set_errhandler (MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  MPI_Comm_rank (MPI_COMM_WORLD, &rank);
  MPI_Comm_size (MPI_COMM_WORLD, &size);
  active = TRUE;
  comm_us = 0;
  return TRUE;
}

void
vg_dist_finalize (void)
{
  if (!active)
    return;
  MPI_Finalize ();
  active = FALSE;
}

static void
sum (void *values, size_t n, size_t elem, MPI_Datatype type)
{
  gint64 start;

  if (!active || size == 1)
    return;
  start = g_get_monotonic_time ();
  for (size_t off = 0; off < n; off += PIECE)
    MPI_Allreduce (MPI_IN_PLACE, (char *) values + off * elem, (int) MIN (PIECE, n - off),
                   type, MPI_SUM, MPI_COMM_WORLD);
  comm_us += g_get_monotonic_time () - start;
}

void
vg_dist_sum_floats (float *values, size_t n)
{
  sum (values, n, sizeof *values, MPI_FLOAT);
}

void
vg_dist_sum_doubles (double *values, size_t n)
{
  sum (values, n, sizeof *values, MPI_DOUBLE);
}

void
vg_dist_sum_uint64 (uint64_t *values, size_t n)
{
  sum (values, n, sizeof *values, MPI_UINT64_T);
}

void
vg_dist_broadcast (void *data, size_t bytes, int root)
{
  gint64 start;

  if (!active || size == 1)
    return;
  start = g_get_monotonic_time ();
  for (size_t off = 0; off < bytes; off += PIECE)
    MPI_Bcast ((char *) data + off, (int) MIN (PIECE, bytes - off), MPI_BYTE, root,
               MPI_COMM_WORLD);
  comm_us += g_get_monotonic_time () - start;
}

void
vg_dist_barrier (void)
{
  if (active && size > 1)
    MPI_Barrier (MPI_COMM_WORLD);
}

gboolean
vg_dist_all (gboolean ok)
{
  int all = ok ? 1 : 0;

  if (active && size > 1)
    MPI_Allreduce (MPI_IN_PLACE, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  stopped_together |= !all;
  return all != 0;
}

void
vg_dist_abort (int status, const char *message)
{
  if (!active)
    return;
  fprintf (stderr, "visage: rank %d of %d: %s\n", rank, size, message);
  fflush (stderr);
  /* Not MPI_Abort: its help message, sent to mpirun while mpirun kills the others, crashed
   * Open MPI 4.1.4's mpirun now and then (show_help.c). A rank that exits without
   * MPI_Finalize is the other case mpirun handles: it reports the rank and its status and
   * ends the rest. */
  _exit (status);
}

#else /* !VG_HAVE_MPI */

gboolean
vg_dist_init (GError **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "--distributed needs MPI, and this build has none: install Open MPI "
               "(libopenmpi-dev, openmpi-bin) and configure the build again%s",
               launched () ? "" : "; then start it with mpirun -np N visage-cli ...");
  return FALSE;
}

void
vg_dist_finalize (void)
{
}

void
vg_dist_sum_floats (float *values, size_t n)
{
}

void
vg_dist_sum_doubles (double *values, size_t n)
{
}

void
vg_dist_sum_uint64 (uint64_t *values, size_t n)
{
}

void
vg_dist_broadcast (void *data, size_t bytes, int root)
{
}

void
vg_dist_barrier (void)
{
}

gboolean
vg_dist_all (gboolean ok)
{
  stopped_together |= !ok;
  return ok;
}

void
vg_dist_abort (int status, const char *message)
{
}

#endif
