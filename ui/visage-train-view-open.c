/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A run opened from its folder (training.open-run): what visage-cli train wrote there, on
 * one machine or as rank 0 under mpirun, shown without training anything. log.csv gives
 * the curves; last.safetensors the run's options and schedule state (vg_train_state_load):
 * finished, stopped after an epoch, or written to now; best.safetensors the checkpoint of
 * the run's own rule, with the page's Use This Model and Evaluate buttons. The files are
 * read on a worker (last.safetensors holds the optimiser's moments: megabytes), and read
 * again when the folder changes, so the page follows a run that goes on elsewhere. A bad
 * folder is refused with its reason, and the page keeps what it showed. */
#define G_LOG_DOMAIN "visage-train-view"

#include "config.h"

#include <errno.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "vg-input-file.h"
#include "vg-safetensors.h"
#include "visage-train-view-private.h"

/* A run whose folder was written within this time is taken as going on: a run writes
 * last.safetensors at each epoch's end and, by default, every 10 minutes within one. */
#define WRITING_MINUTES 15
/* A log.csv larger than this is no training log (a row is about 60 bytes). */
#define MAX_LOG_BYTES (64 << 20)

typedef struct {
  char *folder;
  char *log_path;
  char *log;                /* log.csv's text */
  int n_rows;               /* its rows (finished epochs) */
  gboolean has_state;       /* last.safetensors was read: */
  VgTrainOptions options;   /*   the run's options */
  VgTrainState state;       /*   and its schedule state */
  char *state_problem;      /* else why not (NULL: there is none) */
  gboolean has_best;        /* best.safetensors is there */
  int best_epoch;           /* without a state: best.safetensors' own record (0: none) */
  VgSelectKind best_rule;
  gint64 written;           /* newest write of log.csv or last.safetensors, µs */
} RunRead;

static void
run_read_free (gpointer data)
{
  RunRead *r = data;

  g_free (r->folder);
  g_free (r->log_path);
  g_free (r->log);
  if (r->has_state)
    vg_train_options_clear (&r->options);
  g_free (r->state_problem);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RunRead, run_read_free)

static gint64
modified_us (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return 0;
  return (gint64) st.st_mtime * G_USEC_PER_SEC;
}

static int
count_rows (const char *log)
{
  const char *end = strchr (log, '\n');
  int n = 0;

  /* the lines after the header that hold something */
  for (const char *p = end; p != NULL && p[1] != '\0'; p = strchr (p + 1, '\n'))
    if (p[1] != '\n' && p[1] != '\r')
      n++;
  return n;
}

/* best.safetensors' own record of its epoch and rule, for a folder without a checkpoint to
 * resume from (only log.csv and best.safetensors copied from a cluster, say). */
static void
read_best_record (RunRead *r, const char *best)
{
  g_autoptr (VgSafetensors) st = vg_safetensors_open (best, NULL);
  const char *epoch, *rule;

  if (st == NULL || (epoch = vg_safetensors_metadata (st, "visage.epoch")) == NULL)
    return;
  r->best_epoch = (int) CLAMP (g_ascii_strtoll (epoch, NULL, 10), 0, VG_TRAIN_MAX_EPOCHS);
  rule = vg_safetensors_metadata (st, "visage.selected_by");
  if (rule == NULL || !vg_select_kind_from_name (&r->best_rule, rule, NULL))
    r->best_rule = VG_SELECT_LOSS;
}

/* The last.safetensors part: the run's options and state, or why they are unknown. */
static void
read_state (RunRead *r, const char *last)
{
  g_autoptr (GError) error = NULL;

  if (!g_file_test (last, G_FILE_TEST_EXISTS))
    return;
  if (!vg_train_options_load (&r->options, r->folder, &error))
    {
      vg_train_options_clear (&r->options);
      r->state_problem = g_strdup (error->message);
      return;
    }
  if (!vg_train_state_load (&r->state, &r->options, r->folder, &error))
    {
      vg_train_options_clear (&r->options);
      r->state_problem = g_strdup (error->message);
      return;
    }
  r->has_state = TRUE;
}

static RunRead *
read_run (const char *folder, GError **error)
{
  g_autoptr (RunRead) r = NULL;
  g_autofree char *last = g_build_filename (folder, "last.safetensors", NULL);
  g_autofree char *best = g_build_filename (folder, "best.safetensors", NULL);
  GStatBuf st;
  size_t length;

  if (!g_file_test (folder, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, _("%s is not a folder"),
                   folder);
      return NULL;
    }
  r = g_new0 (RunRead, 1);
  r->folder = g_strdup (folder);
  r->log_path = g_build_filename (folder, "log.csv", NULL);
  if (g_stat (r->log_path, &st) != 0 && errno == ENOENT)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   _("%s holds no log.csv, so it is not a training run’s folder (a run writes "
                     "log.csv there after its first epoch)"), folder);
      return NULL;
    }
  if (g_stat (r->log_path, &st) == 0 && st.st_size > MAX_LOG_BYTES)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is too large to be a training log"), r->log_path);
      return NULL;
    }
  if (!vg_input_file_get_contents (r->log_path, &r->log, &length, error))
    return NULL;
  if (length == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is empty: the run has written no epoch into it"), r->log_path);
      return NULL;
    }
  if (memchr (r->log, '\0', length) != NULL || !g_utf8_validate (r->log, length, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("%s is not a training log: it is not text"), r->log_path);
      return NULL;
    }
  r->n_rows = count_rows (r->log);
  r->written = MAX (modified_us (r->log_path), modified_us (last));
  read_state (r, last);
  r->has_best = g_file_test (best, G_FILE_TEST_IS_REGULAR);
  if (!r->has_state && r->has_best)
    read_best_record (r, best);
  return g_steal_pointer (&r);
}

static void
read_run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  RunRead *r = read_run (task_data, &error);

  if (r == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, r, run_read_free);
}

/* ---- on the page ------------------------------------------------------------------------ */

static gboolean
written_lately (VisageTrainView *self)
{
  return g_get_real_time () - self->run_written < (gint64) WRITING_MINUTES * 60 * G_USEC_PER_SEC;
}

/* What the page says under the bars, by the outcome. */
static char *
opened_message (VisageTrainView *self, const char *state_problem)
{
  g_autofree char *age = _visage_train_view_format_duration (
    (g_get_real_time () - self->run_written) / (double) G_USEC_PER_SEC);

  switch (self->outcome)
    {
    case OUTCOME_FINISHED:
      return g_strdup (_("Opened from its folder: the run has finished. Nothing trains here."));
    case OUTCOME_WRITING:
      /* TRANSLATORS: %s a duration ("4 min 10 s") */
      return g_strdup_printf (_("Opened from its folder, which a run wrote %s ago: the page "
                                "follows its log. The run goes on elsewhere (visage-cli train, "
                                "or mpirun); it cannot be paused or stopped here."), age);
    case OUTCOME_STOPPED:
      /* TRANSLATORS: %s a duration ("2 h 05 min") */
      return g_strdup_printf (_("Opened from its folder, which nothing has written for %s: the "
                                "run does not go on. The Train dialog or visage-cli train "
                                "--resume can resume it."), age);
    case OUTCOME_UNKNOWN:
    default:
      if (state_problem != NULL)
        /* TRANSLATORS: %s why last.safetensors could not be read */
        return g_strdup_printf (_("Opened from its folder: the curves are its log’s, but its "
                                  "state is unknown: %s"), state_problem);
      return g_strdup (_("Opened from its folder, which has no last.safetensors: the curves "
                         "are its log’s, but whether the run finished is unknown."));
    }
}

static gboolean
age_tick (gpointer data)
{
  VisageTrainView *self = data;
  g_autofree char *message = NULL;

  if (self->outcome != OUTCOME_WRITING)
    {
      self->age_source = 0;
      return G_SOURCE_REMOVE;
    }
  if (!written_lately (self))
    self->outcome = OUTCOME_STOPPED;
  message = opened_message (self, NULL);
  gtk_label_set_label (self->message_label, message);
  _visage_train_view_update_labels (self);
  if (self->outcome == OUTCOME_WRITING)
    return G_SOURCE_CONTINUE;
  self->age_source = 0;
  return G_SOURCE_REMOVE;
}

/* The best checkpoint by the run's rule: its epoch from the state (or best.safetensors'
 * record), its figures from the log (which may lag the state by a row). */
static void
take_best (VisageTrainView *self, RunRead *r)
{
  double train_loss;

  g_clear_pointer (&self->best_path, g_free);
  if (r->has_state)
    {
      self->best_epoch = r->options.select == VG_SELECT_MIOU ? r->state.best_miou_epoch
                                                             : r->state.best_loss_epoch;
      self->best_val_loss = r->state.best_loss;
      self->best_val_miou = r->state.best_miou;
    }
  else
    {
      self->best_epoch = r->best_epoch;
      self->best_val_loss = self->best_val_miou = 0.0;
    }
  if (self->best_epoch > 0)
    visage_train_plot_get_epoch (self->plot, self->best_epoch, &train_loss,
                                 &self->best_val_loss, &self->best_val_miou);
  if (self->best_epoch > 0 && r->has_best)
    self->best_path = g_build_filename (r->folder, "best.safetensors", NULL);
}

/* The options, state and outcome from a read; the plot holds its log already. */
static void
take_state (VisageTrainView *self, RunRead *r)
{
  if (self->has_options)
    vg_train_options_clear (&self->options);
  self->has_options = TRUE;
  g_free (self->optimizer);
  self->optimizer = NULL;
  self->lr = 0.0;
  if (r->has_state)
    {
      vg_train_options_copy (&self->options, &r->options);
      self->epochs_done = r->state.epoch;
      self->optimizer = g_strdup (vg_optimizer_kind_name (r->state.optimizer));
      self->lr = vg_train_state_lr (&r->state, &r->options);
      if (r->state.finished || r->state.epoch >= r->options.epochs)
        self->outcome = OUTCOME_FINISHED;
      else
        self->outcome = written_lately (self) ? OUTCOME_WRITING : OUTCOME_STOPPED;
    }
  else
    {
      /* only what the log and best.safetensors tell: no limit, the rule best recorded */
      vg_train_options_init (&self->options);
      self->options.out_dir = g_strdup (r->folder);
      self->options.epochs = 0;
      self->options.select = r->best_rule;
      self->epochs_done = r->n_rows;
      self->outcome = OUTCOME_UNKNOWN;
    }
  take_best (self, r);
}

static void reread_soon (VisageTrainView *self);

static void
folder_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                gpointer data)
{
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *other_name = other != NULL ? g_file_get_basename (other) : NULL;

  /* the engine writes a temporary file and renames it over the old one */
  if (g_str_equal (name, "log.csv") || g_str_equal (name, "last.safetensors")
      || g_strcmp0 (other_name, "log.csv") == 0
      || g_strcmp0 (other_name, "last.safetensors") == 0)
    reread_soon (VISAGE_TRAIN_VIEW (data));
}

static void
watch_folder (VisageTrainView *self, const char *folder)
{
  g_autoptr (GFile) file = g_file_new_for_path (folder);
  g_autoptr (GError) error = NULL;

  self->run_monitor = g_file_monitor_directory (file, G_FILE_MONITOR_WATCH_MOVES, NULL,
                                                &error);
  if (self->run_monitor == NULL)
    {
      g_warning ("Cannot follow %s: %s", folder, error->message);
      return;
    }
  g_signal_connect_object (self->run_monitor, "changed", G_CALLBACK (folder_changed), self, 0);
}

/* A read of an opened folder has come back: shown, or refused with the page as it was. */
static void
run_read (GObject *source, GAsyncResult *result, gpointer data)
{
  VisageTrainView *self = VISAGE_TRAIN_VIEW (source);
  g_autoptr (RunRead) r = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *folder = NULL, *message = NULL;
  gboolean again;

  r = g_task_propagate_pointer (G_TASK (result), &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || self->disposed)
    return;  /* a newer read, a start or the widget's end took over */
  g_clear_object (&self->run_reading);
  again = r != NULL && g_strcmp0 (self->run_folder, r->folder) == 0;
  if (r != NULL && r->n_rows == 0)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 _("%s holds no finished epoch yet"), r->log_path);
  if (error == NULL)
    visage_train_plot_load_log_text (self->plot, r->log, r->log_path, &error);
  if (error != NULL)
    {
      g_free (self->open_error);
      self->open_error = g_strdup (error->message);
      _visage_train_view_notice (self, error->message);
      g_object_notify (G_OBJECT (self), "reading");
      return;
    }
  g_clear_pointer (&self->open_error, g_free);
  if (!again)
    {
      _visage_train_view_close_run (self);
      self->run_folder = g_strdup (r->folder);
      watch_folder (self, r->folder);
    }
  self->run_written = r->written;
  self->has_step = FALSE;
  take_state (self, r);
  message = opened_message (self, r->state_problem);
  gtk_label_set_label (self->message_label, message);
  /* TRANSLATORS: the configuration and the folder of a run opened (not trained here) */
  folder = r->has_state ? g_strdup_printf (_("%s, opened from %s"), r->options.config.name,
                                           r->folder)
                        : g_strdup_printf (_("Opened from %s"), r->folder);
  gtk_label_set_label (self->folder_label, folder);
  gtk_stack_set_visible_child_name (self->stack, "run");
  if (self->outcome == OUTCOME_WRITING && self->age_source == 0)
    self->age_source = g_timeout_add_seconds (30, age_tick, self);
  _visage_train_view_update_labels (self);
  g_object_notify (G_OBJECT (self), "reading");
}

static void
read_folder (VisageTrainView *self, const char *folder)
{
  g_autoptr (GTask) task = NULL;

  if (self->run_reading != NULL)
    g_cancellable_cancel (self->run_reading);
  g_clear_object (&self->run_reading);
  self->run_reading = g_cancellable_new ();
  task = g_task_new (self, self->run_reading, run_read, NULL);
  g_task_set_source_tag (task, read_folder);
  g_task_set_task_data (task, g_strdup (folder), g_free);
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, read_run_thread);
  g_object_notify (G_OBJECT (self), "reading");
}

static gboolean
reread (gpointer data)
{
  VisageTrainView *self = data;

  self->reread_source = 0;
  if (self->run_folder != NULL && self->cancellable == NULL)
    read_folder (self, self->run_folder);
  return G_SOURCE_REMOVE;
}

/* The folder changed: read it again once its writes have settled (last.safetensors, then
 * log.csv, each as a temporary file renamed). */
static void
reread_soon (VisageTrainView *self)
{
  g_clear_handle_id (&self->reread_source, g_source_remove);
  self->reread_source = g_timeout_add (300, reread, self);
}

void
_visage_train_view_close_run (VisageTrainView *self)
{
  if (self->run_reading != NULL)
    g_cancellable_cancel (self->run_reading);
  g_clear_object (&self->run_reading);
  if (self->run_monitor != NULL)
    {
      g_file_monitor_cancel (self->run_monitor);
      g_signal_handlers_disconnect_by_data (self->run_monitor, self);
    }
  g_clear_object (&self->run_monitor);
  g_clear_handle_id (&self->reread_source, g_source_remove);
  g_clear_handle_id (&self->age_source, g_source_remove);
  g_clear_pointer (&self->run_folder, g_free);
}

gboolean
visage_train_view_open_run (VisageTrainView *self, const char *folder)
{
  g_autofree char *absolute = NULL;

  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), FALSE);
  g_return_val_if_fail (folder != NULL, FALSE);

  if (self->cancellable != NULL)
    {
      _visage_train_view_notice (self, _("A model trains here: open a run’s folder once it "
                                         "has ended"));
      return FALSE;
    }
  absolute = g_canonicalize_filename (folder, NULL);
  read_folder (self, absolute);
  return TRUE;
}

gboolean
visage_train_view_get_reading (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), FALSE);

  return self->run_reading != NULL;
}

const char *
visage_train_view_get_run_folder (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return self->run_folder;
}

const char *
visage_train_view_get_open_error (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return self->open_error;
}

void
_visage_train_view_open_run_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  visage_train_view_open_run (VISAGE_TRAIN_VIEW (widget), g_variant_get_string (parameter,
                                                                                 NULL));
}
