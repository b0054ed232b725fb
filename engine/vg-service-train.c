/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The service's training runs (worker only): vg_train_run with its news coalesced into
 * events, and the other jobs served between its steps (see vg-service-private.h). */
#define G_LOG_DOMAIN "visage-service"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "vg-backend.h"
#include "vg-device.h"
#include "vg-stats.h"
#include "vg-service-private.h"

/* ---- training ---------------------------------------------------------------------------- */

typedef struct {
  VgService *self;
  Job *job;
  GCancellable *stop;  /* what vg_train_run watches: the caller's cancel or a shutdown */
} TrainRun;

static void
train_message (const char *text, gpointer user_data)
{
  TrainRun *run = user_data;

  g_mutex_lock (&run->self->mutex);
  g_ptr_array_add (service_news_locked (run->self, run->job)->messages, g_strdup (text));
  service_schedule_delivery_locked (run->self, FALSE);
  g_mutex_unlock (&run->self->mutex);
}

static void
train_step (const VgTrainStep *step, gpointer user_data)
{
  TrainRun *run = user_data;
  Event *news;

  g_mutex_lock (&run->self->mutex);
  news = service_news_locked (run->self, run->job);
  news->has_step = TRUE;
  news->step = *step;
  news->done = step->step;
  news->total = step->steps;
  service_schedule_delivery_locked (run->self, FALSE);
  g_mutex_unlock (&run->self->mutex);

  if (service_job_should_stop (run->self, run->job, NULL))
    g_cancellable_cancel (run->stop);
  else
    service_serve_queued (run->self, SERVE_ALL_BUT_TRAINING);
}

static void
train_validate (int epoch, int done, int total, gpointer user_data)
{
  TrainRun *run = user_data;

  service_report (run->self, run->job, done, total, NULL);
  if (service_job_should_stop (run->self, run->job, NULL))
    g_cancellable_cancel (run->stop);
  else
    service_serve_queued (run->self, SERVE_ALL_BUT_TRAINING);
}

static void
train_epoch (const VgTrainEpoch *epoch, gpointer user_data)
{
  TrainRun *run = user_data;
  VgServiceEpoch copy = { .epoch = *epoch };

  /* The state is copied by value; ::train-epoch points epoch.state at the copy. */
  if (epoch->state != NULL)
    copy.state = *epoch->state;
  copy.epoch.state = NULL;
  g_mutex_lock (&run->self->mutex);
  g_array_append_val (service_news_locked (run->self, run->job)->epochs, copy);
  service_schedule_delivery_locked (run->self, TRUE);
  g_mutex_unlock (&run->self->mutex);
}

/* A paused run still serves the other jobs. */
static void
train_paused (gpointer user_data)
{
  TrainRun *run = user_data;

  if (!service_job_should_stop (run->self, run->job, NULL))
    service_serve_queued (run->self, SERVE_ALL_BUT_TRAINING);
}

VgTrainState *
service_run_train (VgService *self, Job *job, GError **error)
{
  static const VgTrainCallbacks callbacks = {
    .message = train_message,
    .step = train_step,
    .validate = train_validate,
    .epoch = train_epoch,
    .paused = train_paused,
  };
  g_autoptr (GCancellable) stop = g_cancellable_new ();
  g_autofree VgTrainState *state = g_new0 (VgTrainState, 1);
  TrainRun run = { self, job, stop };

  if (service_job_should_stop (self, job, error))
    return NULL;
  if (job->train_options->backend == NULL)
    {
      char why[512] = "";

      /* The service's device, as for the models it loads. */
      job->train_options->backend = vg_backend_for_device (job->device, why, sizeof why);
      if (why[0] != '\0' && g_strcmp0 (job->device, "cuda") == 0)
        train_message (why, &run);
    }
  if (!vg_train_run (job->train_options, &callbacks, &run, self->train_control, stop, state,
                     error))
    {
      /* Report the caller's cancel as such, not as the internal one. */
      if (error != NULL && *error != NULL && service_job_should_stop (self, job, NULL))
        {
          g_clear_error (error);
          service_job_should_stop (self, job, error);
        }
      return NULL;
    }
  return g_steal_pointer (&state);
}
