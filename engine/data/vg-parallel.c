/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A minimal parallel-for over plain GThreads for file-bound work (decoding a split).
 *
 * OpenMP would also do, but these loops spend their time in libjpeg and the kernel, and
 * a GThread per call keeps them out of the OpenMP pool that the numeric ops size for the
 * cores. */
#define G_LOG_DOMAIN "visage-data"

#include "config.h"

#include "vg-data-private.h"

typedef struct {
  int n;
  int next;             /* atomic: the next index to hand out */
  VgParallelFunc func;
  gpointer user_data;
} ParallelJob;

typedef struct {
  ParallelJob *job;
  int thread;
} ParallelWorker;

static void
run_worker (ParallelJob *job, int thread)
{
  for (;;)
    {
      int i = g_atomic_int_add (&job->next, 1);
      if (i >= job->n)
        break;
      job->func (i, thread, job->user_data);
    }
}

static gpointer
worker_main (gpointer data)
{
  ParallelWorker *worker = data;

  run_worker (worker->job, worker->thread);
  return NULL;
}

int
vg_parallel_threads (int n_threads, int n)
{
  if (n_threads <= 0)
    n_threads = (int) g_get_num_processors ();
  return CLAMP (n_threads, 1, MAX (n, 1));
}

void
vg_parallel_for (int n, int n_threads, VgParallelFunc func, gpointer user_data)
{
  ParallelJob job = { n, 0, func, user_data };
  int t = vg_parallel_threads (n_threads, n);
  g_autofree GThread **threads = g_new0 (GThread *, t);
  g_autofree ParallelWorker *workers = g_new0 (ParallelWorker, t);

  for (int i = 1; i < t; i++)
    {
      workers[i].job = &job;
      workers[i].thread = i;
      /* g_thread_try_new: if the system refuses a thread, the others do its share. */
      threads[i] = g_thread_try_new ("vg-data", worker_main, &workers[i], NULL);
    }
  run_worker (&job, 0);
  for (int i = 1; i < t; i++)
    if (threads[i] != NULL)
      g_thread_join (threads[i]);
}

void
vg_first_error_init (VgFirstError *first)
{
  g_mutex_init (&first->lock);
}

void
vg_first_error_offer (VgFirstError *first, int index, GError *error)
{
  g_mutex_lock (&first->lock);
  if (first->error == NULL || index < first->index)
    {
      g_clear_error (&first->error);
      first->error = error;
      first->index = index;
    }
  else
    g_error_free (error);
  g_mutex_unlock (&first->lock);
  g_atomic_int_set (&first->failed, 1);
}

gboolean
vg_first_error_finish (VgFirstError *first, GError **error)
{
  g_mutex_clear (&first->lock);
  if (first->error == NULL)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&first->error));
  return FALSE;
}
