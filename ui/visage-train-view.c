/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-train-view"

#include "config.h"

#include <math.h>

#include <glib/gi18n.h>

#include "visage-file-chooser.h"
#include "visage-folder-toast.h"
#include "visage-format.h"
#include "visage-resources.h"
#include "visage-train-view-private.h"

/* The exported figure's size in points. */
#define EXPORT_WIDTH 1200
#define EXPORT_HEIGHT 720

G_DEFINE_FINAL_TYPE (VisageTrainView, visage_train_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_RUNNING,
  PROP_READING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GtkWidget *
visage_train_view_new (void)
{
  return g_object_new (VISAGE_TYPE_TRAIN_VIEW, NULL);
}

static void
show_toast (VisageTrainView *self, AdwToast *toast)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
  else
    g_object_unref (g_object_ref_sink (toast));
}

void
_visage_train_view_notice (VisageTrainView *self, const char *text)
{
  AdwToast *toast = adw_toast_new (text);

  adw_toast_set_timeout (toast, 6);
  show_toast (self, toast);
}

static const char *
optimizer_display_name (const char *name)
{
  if (g_strcmp0 (name, "sgd") == 0)
    return "SGD";
  if (g_strcmp0 (name, "adamw") == 0)
    return "AdamW";
  return "Adam";
}

/* "2 h 05 min", "4 min 10 s", "12 s". */
char *
_visage_train_view_format_duration (double seconds)
{
  gint64 s = (gint64) llround (MAX (seconds, 0.0));

  if (s >= 3600)
    /* TRANSLATORS: a duration in hours and minutes */
    return g_strdup_printf (_("%d h %02d min"), (int) (s / 3600), (int) (s % 3600 / 60));
  if (s >= 60)
    /* TRANSLATORS: a duration in minutes and seconds */
    return g_strdup_printf (_("%d min %02d s"), (int) (s / 60), (int) (s % 60));
  /* TRANSLATORS: a duration in seconds */
  return g_strdup_printf (_("%d s"), (int) s);
}

static void
update_actions (VisageTrainView *self)
{
  gboolean running = self->cancellable != NULL;
  gboolean has_best = self->best_path != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "training.pause", running && !self->paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "training.resume", running && self->paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "training.stop", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "training.open-run", !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "training.use-best", has_best);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "training.evaluate-best", has_best);
  gtk_widget_set_visible (self->best_buttons, has_best);
  /* an opened run goes on elsewhere, if at all: nothing here pauses or stops it */
  gtk_widget_set_visible (self->pause_button, self->run_folder == NULL);
  gtk_widget_set_visible (self->resume_button, self->run_folder == NULL);
  gtk_widget_set_visible (self->stop_button, self->run_folder == NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "training.export-plot",
                                 visage_train_plot_get_n_points (self->plot) > 0);
}

static VgSelectKind
best_rule (VisageTrainView *self)
{
  return self->has_options ? self->options.select : VG_SELECT_LOSS;
}

/* The best checkpoint, named by the rule that makes best.safetensors (the notice of a new
 * one says the same). */
static char *
best_text (VisageTrainView *self)
{
  g_autofree char *miou = NULL;

  if (best_rule (self) == VG_SELECT_MIOU)
    {
      if (self->best_epoch == 0)
        return g_strdup (_("Best checkpoint (highest validation mIoU): none yet"));
      miou = visage_format_percent (self->best_val_miou, 2);
      /* TRANSLATORS: the best checkpoint's epoch and its validation mIoU ("73.18%") */
      return g_strdup_printf (_("Best checkpoint (highest validation mIoU): epoch %d · "
                                "mIoU %s"), self->best_epoch, miou);
    }
  if (self->best_epoch == 0)
    return g_strdup (_("Best checkpoint (lowest validation loss): none yet"));
  miou = visage_format_percent (self->best_val_miou, 2);
  /* TRANSLATORS: the best checkpoint's epoch, validation loss and mIoU ("73.18%") */
  return g_strdup_printf (_("Best checkpoint (lowest validation loss): epoch %d · loss %.4f · "
                            "mIoU %s"), self->best_epoch, self->best_val_loss, miou);
}

/* The phase line: the optimiser running now, or the one the run ended in. */
static char *
phase_text (VisageTrainView *self)
{
  char lr[G_ASCII_DTOSTR_BUF_SIZE] = "";

  if (self->lr > 0)
    g_ascii_formatd (lr, sizeof lr, "%.3g", self->lr);
  if (self->outcome == OUTCOME_UNKNOWN)
    return g_strdup (_("Last phase: unknown (no last.safetensors)"));
  if (self->cancellable == NULL && self->outcome != OUTCOME_WRITING)
    /* TRANSLATORS: the optimiser the run ended with and its learning rate */
    return g_strdup_printf (_("Last phase: %s · learning rate %s"),
                            optimizer_display_name (self->optimizer), self->lr > 0 ? lr : "–");
  /* TRANSLATORS: the optimiser running now and its learning rate */
  return g_strdup_printf (_("Phase: %s · learning rate %s"),
                          optimizer_display_name (self->optimizer), self->lr > 0 ? lr : "–");
}

/* The epoch bar while a run goes on: its steps, or its validation; *fraction: of the
 * epoch. */
static char *
epoch_text (VisageTrainView *self, double *fraction)
{
  const VgTrainStep *st = &self->step;

  *fraction = 0.0;
  if (!self->has_step)
    return g_strdup (_("Preparing the data…"));
  if (self->validating)
    {
      *fraction = self->val_total > 0 ? (double) self->val_done / self->val_total : 0.0;
      if (self->paused)
        /* TRANSLATORS: validation goes on while paused; training waits after it */
        return g_strdup_printf (_("Epoch %d of %d: validating, %d of %d images · then paused"),
                                st->epoch, st->epochs, self->val_done, self->val_total);
      return g_strdup_printf (_("Epoch %d of %d: validating, %d of %d images"), st->epoch,
                              st->epochs, self->val_done, self->val_total);
    }
  *fraction = st->steps > 0 ? (double) st->step / st->steps : 0.0;
  if (self->paused)
    return g_strdup_printf (_("Epoch %d of %d: step %d of %d · paused"), st->epoch, st->epochs,
                            st->step, st->steps);
  return g_strdup_printf (_("Epoch %d of %d: step %d of %d · %.1f images/s"), st->epoch,
                          st->epochs, st->step, st->steps, st->images_per_s);
}

/* The run bar's text once the run has ended. */
static char *
ended_text (VisageTrainView *self, int epochs)
{
  switch (self->outcome)
    {
    case OUTCOME_FINISHED:
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Run: finished after %d epoch",
                                           "Run: finished after %d epochs",
                                           self->epochs_done), self->epochs_done);
    case OUTCOME_DONE_BEFORE:
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "Run: had finished already, after %d epoch",
                                           "Run: had finished already, after %d epochs",
                                           self->epochs_done), self->epochs_done);
    case OUTCOME_STOPPED:
      /* TRANSLATORS: epochs done of the run's limit */
      return g_strdup_printf (_("Run: stopped after epoch %d of %d"), self->epochs_done,
                              epochs);
    case OUTCOME_FAILED:
      return g_strdup_printf (_("Run: failed after epoch %d of %d"), self->epochs_done, epochs);
    case OUTCOME_WRITING:
      /* TRANSLATORS: an opened run's folder that a run elsewhere writes to now */
      return g_strdup_printf (_("Run: epoch %d of %d done · going on elsewhere"),
                              self->epochs_done, epochs);
    case OUTCOME_UNKNOWN:
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Run: %d epoch logged",
                                           "Run: %d epochs logged", self->epochs_done),
                              self->epochs_done);
    case OUTCOME_NONE:
    default:
      return g_strdup ("");
    }
}

/* The run bar while a run goes on: epochs, and the time left while it is not paused. */
static char *
run_text (VisageTrainView *self, int epoch, int epochs, double done)
{
  double per_epoch = -1.0;
  g_autofree char *left = NULL;

  if (self->n_epoch_seconds > 0)
    per_epoch = self->epoch_seconds / self->n_epoch_seconds;
  else if (self->has_step && self->step.step > 0)
    per_epoch = self->step.elapsed_s / self->step.step * self->step.steps;
  if (self->paused)
    /* TRANSLATORS: the run's progress while it is paused */
    return g_strdup_printf (_("Run: epoch %d of %d · paused"), MAX (epoch, 1), epochs);
  if (per_epoch <= 0)
    return g_strdup_printf (_("Run: epoch %d of %d"), MAX (epoch, 1), epochs);
  left = _visage_train_view_format_duration (per_epoch * (epochs - done));
  /* TRANSLATORS: the run's progress; the run may end sooner when the optimiser
   * pipeline finishes, hence "at most" */
  return g_strdup_printf (_("Run: epoch %d of %d · at most %s left"), MAX (epoch, 1), epochs,
                          left);
}

void
_visage_train_view_update_labels (VisageTrainView *self)
{
  g_autofree char *phase = phase_text (self), *best = best_text (self);
  g_autofree char *epoch_line = NULL, *run_line = NULL;
  gboolean running = self->cancellable != NULL;
  int epochs = self->has_step ? self->step.epochs : self->has_options ? self->options.epochs : 0;
  double epoch_fraction = 0.0, run_fraction = 0.0;

  gtk_label_set_label (self->title_label,
                       !running ? _("Training Run")
                       : self->paused ? _("Training Paused") : _("Training"));
  gtk_label_set_label (self->phase_label, phase);
  gtk_label_set_label (self->best_label, best);

  if (running)
    {
      int epoch = self->has_step ? self->step.epoch : self->epochs_done + 1;

      epoch_line = epoch_text (self, &epoch_fraction);
      if (epochs > 0)
        {
          double done = MAX (epoch - 1, 0) + (self->has_step ? epoch_fraction : 0.0);

          run_fraction = done / epochs;
          run_line = run_text (self, epoch, epochs, done);
        }
    }
  else
    {
      /* Ended (or nothing yet): no step, rate or time left that no longer holds. */
      epoch_line = g_strdup ("");
      run_line = ended_text (self, epochs);
      run_fraction = epochs > 0 ? (double) self->epochs_done / epochs : 0.0;
      if (self->outcome == OUTCOME_FINISHED || self->outcome == OUTCOME_DONE_BEFORE)
        run_fraction = 1.0;
    }
  gtk_widget_set_visible (GTK_WIDGET (self->epoch_bar), running);
  gtk_progress_bar_set_fraction (self->epoch_bar, CLAMP (epoch_fraction, 0.0, 1.0));
  gtk_progress_bar_set_fraction (self->run_bar, CLAMP (run_fraction, 0.0, 1.0));
  gtk_progress_bar_set_text (self->epoch_bar, epoch_line);
  gtk_progress_bar_set_text (self->run_bar, run_line != NULL ? run_line : "");
  update_actions (self);
}

/* ---- the service's news ----------------------------------------------------------------- */

static void
on_train_step (VisageTrainView *self, const VgTrainStep *step)
{
  if (self->cancellable == NULL)
    return;
  self->step = *step;
  self->has_step = TRUE;
  self->validating = FALSE;
  self->lr = step->lr;
  _visage_train_view_update_labels (self);
}

static void
on_progress (VisageTrainView *self, int job, int done, int total)
{
  if (self->cancellable == NULL || job != VG_SERVICE_JOB_TRAIN || !self->has_step)
    return;
  /* After an epoch's last step, the progress of its validation images. */
  if (self->step.step == self->step.steps && (done != self->step.step || total != self->step.steps))
    {
      self->validating = TRUE;
      self->val_done = done;
      self->val_total = total;
      _visage_train_view_update_labels (self);
    }
}

/* A new best checkpoint (best.safetensors written after `epoch`): the header and a notice
 * say so under the rule that chose it. */
static void
announce_best (VisageTrainView *self, int epoch, double val_loss, double val_miou)
{
  g_autofree char *title = NULL;
  AdwToast *toast;

  self->best_epoch = epoch;
  self->best_val_loss = val_loss;
  self->best_val_miou = val_miou;
  g_free (self->best_path);
  self->best_path = g_build_filename (self->options.out_dir, "best.safetensors", NULL);
  title = g_strdup_printf (best_rule (self) == VG_SELECT_MIOU
                           /* TRANSLATORS: a new best checkpoint was written after this epoch */
                           ? _("Epoch %d has the highest validation mIoU so far: saved as "
                               "best.safetensors")
                           : _("Epoch %d has the lowest validation loss so far: saved as "
                               "best.safetensors"), epoch);
  if (self->best_toast != NULL)
    adw_toast_dismiss (self->best_toast);
  toast = adw_toast_new (title);
  adw_toast_set_timeout (toast, 10);
  adw_toast_set_button_label (toast, _("_Use This Model"));
  adw_toast_set_action_name (toast, "win.browse-model");
  adw_toast_set_action_target_value (toast, g_variant_new_string (self->best_path));
  g_set_weak_pointer (&self->best_toast, toast);
  show_toast (self, toast);
}

static void
on_train_epoch (VisageTrainView *self, const VgServiceEpoch *record)
{
  const VgTrainEpoch *e = &record->epoch;
  const VgTrainState *s = &record->state;

  if (self->cancellable == NULL)
    return;
  visage_train_plot_add_epoch (self->plot, e->epoch, e->train_loss, e->val_loss, e->val_miou);
  if (e->events & (VG_TRAIN_EVENT_SWITCH_SGD | VG_TRAIN_EVENT_HALVE_LR))
    visage_train_plot_add_switch (self->plot, e->epoch, vg_optimizer_kind_name (s->optimizer),
                                  s->phase_lr);
  g_free (self->optimizer);
  self->optimizer = g_strdup (vg_optimizer_kind_name (s->optimizer));
  self->lr = vg_train_state_lr (s, &self->options);
  self->epoch_seconds += e->seconds;
  self->n_epoch_seconds++;
  self->epochs_done = e->epoch;
  self->validating = FALSE;
  /* The next epoch has not started: show this one as complete. */
  if (self->has_step)
    self->step.step = self->step.steps;
  if (e->events & VG_TRAIN_EVENT_SAVE_BEST)
    announce_best (self, e->epoch, e->val_loss, e->val_miou);
  _visage_train_view_update_labels (self);
}

static void
on_message (VisageTrainView *self, const char *text)
{
  if (self->cancellable == NULL)
    return;
  gtk_label_set_label (self->message_label, text);
}

static void
set_running (VisageTrainView *self, GCancellable *cancellable)
{
  g_set_object (&self->cancellable, cancellable);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

/* How a run that ended without an error reads: finished now, or finished already; *toast:
 * the notice's shorter line (a notice shows one). */
static char *
finished_message (VisageTrainView *self, const VgTrainState *state, char **toast)
{
  g_autofree char *best = NULL;

  if (self->n_epoch_seconds == 0)
    {
      self->outcome = OUTCOME_DONE_BEFORE;
      *toast = g_strdup (_("This run had finished already: nothing more was trained"));
      if (state->finished)
        /* TRANSLATORS: a resumed run that its optimiser schedule had ended already */
        return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                             "This run had finished already: its optimiser "
                                             "schedule ended it after %d epoch. Nothing more "
                                             "was trained.",
                                             "This run had finished already: its optimiser "
                                             "schedule ended it after %d epochs. Nothing more "
                                             "was trained.", state->epoch), state->epoch);
      return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                           "This run had reached its epoch limit already, after "
                                           "%d epoch. Nothing more was trained: raise the limit "
                                           "in the Train dialog to go on.",
                                           "This run had reached its epoch limit already, after "
                                           "%d epochs. Nothing more was trained: raise the limit "
                                           "in the Train dialog to go on.", state->epoch),
                              state->epoch);
    }
  self->outcome = OUTCOME_FINISHED;
  *toast = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Training finished after %d epoch",
                                         "Training finished after %d epochs", state->epoch),
                            state->epoch);
  if (self->best_epoch == 0)
    return g_strdup (*toast);
  best = best_text (self);
  /* TRANSLATORS: %d epochs; %s the best checkpoint's line ("Best checkpoint (…): epoch 3 …") */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Training finished after %d epoch. %s",
                                       "Training finished after %d epochs. %s", state->epoch),
                          state->epoch, best);
}

static void
trained (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VisageTrainView) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *message = NULL, *toast_text = NULL;
  VgTrainState state = { 0 };
  gboolean ok;

  ok = vg_service_train_finish (VG_SERVICE (source), result, &state, &error);
  if (self->disposed)
    return;
  self->paused = FALSE;
  vg_service_set_training_paused (self->service, FALSE);
  if (self->stop_question != NULL)
    gtk_window_destroy (GTK_WINDOW (self->stop_question));
  self->epochs_done = MAX (self->epochs_done, state.epoch);
  if (ok)
    message = finished_message (self, &state, &toast_text);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *last = g_build_filename (self->options.out_dir, "last.safetensors",
                                                NULL);

      self->outcome = OUTCOME_STOPPED;
      /* last is written at each epoch's end and every few minutes within an epoch */
      if (g_file_test (last, G_FILE_TEST_EXISTS))
        {
          message = g_strdup_printf (_("Training stopped; %s keeps the run up to its last "
                                       "checkpoint. To continue, choose this folder in the "
                                       "Train dialog: it offers to resume."), last);
          /* the notice is one line: the page keeps the whole message */
          toast_text = g_strdup (_("Training stopped: the Train dialog can resume it"));
        }
      else
        message = g_strdup (_("Training stopped before its first checkpoint; nothing was "
                              "saved"));
    }
  else
    {
      self->outcome = OUTCOME_FAILED;
      message = g_strdup_printf (_("Training failed: %s"), error->message);
    }
  gtk_label_set_label (self->message_label, message);
  _visage_train_view_notice (self, toast_text != NULL ? toast_text : message);
  set_running (self, NULL);
  _visage_train_view_update_labels (self);
}

/* ---- API -------------------------------------------------------------------------------- */

void
visage_train_view_set_service (VisageTrainView *self, VgService *service)
{
  g_return_if_fail (VISAGE_IS_TRAIN_VIEW (self));
  g_return_if_fail (VG_IS_SERVICE (service));
  g_return_if_fail (self->service == NULL);

  self->service = g_object_ref (service);
  g_signal_connect_swapped (service, "train-step", G_CALLBACK (on_train_step), self);
  g_signal_connect_swapped (service, "train-epoch", G_CALLBACK (on_train_epoch), self);
  g_signal_connect_swapped (service, "progress", G_CALLBACK (on_progress), self);
  g_signal_connect_swapped (service, "message", G_CALLBACK (on_message), self);
}

/* A resumed run: its epochs so far from its log, its phase and best checkpoint from its
 * schedule's state, both read (once, at the start) from the checkpoint it resumes from,
 * which log.csv may lag by a row. */
static void
load_history (VisageTrainView *self)
{
  g_autofree char *last = g_build_filename (self->options.out_dir, "last.safetensors", NULL);
  g_autofree char *best = g_build_filename (self->options.out_dir, "best.safetensors", NULL);
  g_autofree char *log = NULL;
  g_autoptr (GError) error = NULL;
  VgTrainState state;
  double train_loss;

  if ((log = vg_train_read_log (self->options.out_dir, &error)) == NULL
      || !visage_train_plot_load_log_text (self->plot, log, last, &error)
      || !vg_train_state_load (&state, &self->options, self->options.out_dir, &error))
    {
      gtk_label_set_label (self->message_label, error->message);
      return;
    }
  self->epochs_done = state.epoch;
  g_free (self->optimizer);
  self->optimizer = g_strdup (vg_optimizer_kind_name (state.optimizer));
  self->lr = vg_train_state_lr (&state, &self->options);
  self->best_epoch = self->options.select == VG_SELECT_MIOU ? state.best_miou_epoch
                                                           : state.best_loss_epoch;
  self->best_val_loss = state.best_loss;
  self->best_val_miou = state.best_miou;
  /* the other figure of that epoch from the log */
  if (self->best_epoch > 0)
    visage_train_plot_get_epoch (self->plot, self->best_epoch, &train_loss,
                                 &self->best_val_loss, &self->best_val_miou);
  if (self->best_epoch > 0 && g_file_test (best, G_FILE_TEST_IS_REGULAR))
    self->best_path = g_steal_pointer (&best);
}

gboolean
visage_train_view_start (VisageTrainView *self, const VgTrainOptions *opts)
{
  g_autoptr (GCancellable) cancellable = NULL;
  g_autofree char *folder = NULL;

  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), FALSE);
  g_return_val_if_fail (opts != NULL && opts->out_dir != NULL, FALSE);
  g_return_val_if_fail (self->service != NULL, FALSE);

  if (self->cancellable != NULL)
    return FALSE;
  _visage_train_view_close_run (self);
  g_clear_pointer (&self->open_error, g_free);
  if (self->has_options)
    vg_train_options_clear (&self->options);
  vg_train_options_copy (&self->options, opts);
  self->has_options = TRUE;
  self->has_step = FALSE;
  self->validating = FALSE;
  self->paused = FALSE;
  self->epoch_seconds = 0.0;
  self->n_epoch_seconds = 0;
  self->epochs_done = 0;
  self->outcome = OUTCOME_NONE;
  self->lr = opts->optimizer == VG_OPTIMIZER_SGD ? opts->sgd_lr : opts->lr;
  g_free (self->optimizer);
  self->optimizer = g_strdup (opts->optimizer == VG_OPTIMIZER_PIPELINE
                              ? "adam" : vg_optimizer_kind_name (opts->optimizer));
  self->best_epoch = 0;
  g_clear_pointer (&self->best_path, g_free);
  if (self->best_toast != NULL)
    adw_toast_dismiss (self->best_toast);
  visage_train_plot_clear (self->plot);
  gtk_label_set_label (self->message_label, "");
  if (opts->resume)
    load_history (self);

  /* TRANSLATORS: the configuration trained and the run's output folder */
  folder = g_strdup_printf (opts->resume ? _("%s, resumed, into %s") : _("%s into %s"),
                            opts->config.name, opts->out_dir);
  gtk_label_set_label (self->folder_label, folder);
  gtk_stack_set_visible_child_name (self->stack, "run");
  cancellable = g_cancellable_new ();
  set_running (self, cancellable);
  vg_service_set_training_paused (self->service, FALSE);
  vg_service_train_async (self->service, &self->options, cancellable, trained,
                          g_object_ref (self));
  _visage_train_view_update_labels (self);
  return TRUE;
}

void
visage_train_view_stop (VisageTrainView *self)
{
  g_return_if_fail (VISAGE_IS_TRAIN_VIEW (self));

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

void
visage_train_view_set_paused (VisageTrainView *self, gboolean paused)
{
  g_return_if_fail (VISAGE_IS_TRAIN_VIEW (self));

  if (self->cancellable == NULL || self->paused == paused)
    return;
  self->paused = paused;
  vg_service_set_training_paused (self->service, paused);
  _visage_train_view_update_labels (self);
}

gboolean
visage_train_view_get_running (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), FALSE);

  return self->cancellable != NULL;
}

gboolean
visage_train_view_get_paused (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), FALSE);

  return self->paused;
}

const char *
visage_train_view_get_best_path (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return self->best_path;
}

const char *
visage_train_view_get_phase_text (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return gtk_label_get_label (self->phase_label);
}

const char *
visage_train_view_get_best_text (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return gtk_label_get_label (self->best_label);
}

const char *
visage_train_view_get_epoch_text (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return gtk_progress_bar_get_text (self->epoch_bar);
}

const char *
visage_train_view_get_run_text (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return gtk_progress_bar_get_text (self->run_bar);
}

const char *
visage_train_view_get_message (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return gtk_label_get_label (self->message_label);
}

VisageTrainPlot *
visage_train_view_get_plot (VisageTrainView *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_VIEW (self), NULL);

  return self->plot;
}

/* ---- actions ---------------------------------------------------------------------------- */

static void
pause_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  visage_train_view_set_paused (VISAGE_TRAIN_VIEW (widget), TRUE);
}

static void
resume_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  visage_train_view_set_paused (VISAGE_TRAIN_VIEW (widget), FALSE);
}

static void
stop_question_response (VisageTrainView *self, const char *response)
{
  if (g_str_equal (response, "stop"))
    visage_train_view_stop (self);
}

/* Stop asks first: a stopped run loses the epoch under way. */
static void
stop_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  VisageTrainView *self = VISAGE_TRAIN_VIEW (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  AdwMessageDialog *dialog;

  if (self->cancellable == NULL)
    return;
  if (self->stop_question != NULL)
    {
      gtk_window_present (GTK_WINDOW (self->stop_question));
      return;
    }
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
    GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, _("Stop Training?"),
    _("The epoch under way is lost; last.safetensors keeps the run up to its last "
      "checkpoint, and the Train dialog can resume it later.")));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Keep Training"), "stop", _("_Stop"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "stop", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (stop_question_response), self,
                           G_CONNECT_SWAPPED);
  g_set_weak_pointer (&self->stop_question, dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The best checkpoint, for the workbench: browsing with it, or evaluating it. */
static void
use_best_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  VisageTrainView *self = VISAGE_TRAIN_VIEW (widget);

  if (self->best_path != NULL)
    gtk_widget_activate_action (widget, g_str_equal (name, "training.use-best")
                                        ? "win.browse-model" : "win.use-model",
                                "s", self->best_path);
}

static void
export_chosen (const char *path, gpointer user_data)
{
  VisageChooserRequest *request = user_data; /* what: the format, "png" or "svg" */
  VisageTrainView *self = request->owner;
  g_autoptr (GError) error = NULL;

  if (self->disposed)
    return;
  if (visage_train_plot_export (self->plot, path, request->what, EXPORT_WIDTH, EXPORT_HEIGHT,
                                &error))
    {
      g_autofree char *text = g_strdup_printf (_("Plot saved as %s"), path);
      GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);

      if (overlay != NULL)
        visage_folder_toast_show (ADW_TOAST_OVERLAY (overlay), text, path);
    }
  else
    _visage_train_view_notice (self, error->message);
}

static void
export_plot_action (GtkWidget *widget, const char *name, GVariant *parameter)
{
  VisageTrainView *self = VISAGE_TRAIN_VIEW (widget);
  const char *format = g_variant_get_string (parameter, NULL);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();
  g_autoptr (GFile) folder = NULL;
  g_autofree char *current = NULL;

  if (!g_str_equal (format, "png") && !g_str_equal (format, "svg"))
    return;
  if (g_str_equal (format, "png"))
    {
      gtk_file_filter_set_name (filter, _("PNG Images"));
      gtk_file_filter_add_suffix (filter, "png");
    }
  else
    {
      gtk_file_filter_set_name (filter, _("SVG Images"));
      gtk_file_filter_add_suffix (filter, "svg");
    }
  current = g_strconcat ("convergence.", format, NULL);
  if (self->has_options)
    folder = g_file_new_for_path (self->options.out_dir);
  visage_choose_path (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                      &(VisageChooserSpec) { .title = _("Export the Plot"),
                                             .action = GTK_FILE_CHOOSER_ACTION_SAVE,
                                             .accept_label = _("_Export"),
                                             .folder = folder,
                                             .current_name = current,
                                             .filters = { filter } },
                      export_chosen, visage_chooser_request_new (self, format),
                      visage_chooser_request_free);
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
visage_train_view_dispose (GObject *object)
{
  VisageTrainView *self = VISAGE_TRAIN_VIEW (object);

  self->disposed = TRUE;
  _visage_train_view_close_run (self);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->service, self);
      /* A paused run must see the cancel. */
      vg_service_set_training_paused (self->service, FALSE);
    }
  g_clear_weak_pointer (&self->best_toast);
  if (self->stop_question != NULL)
    gtk_window_destroy (GTK_WINDOW (self->stop_question));
  g_clear_weak_pointer (&self->stop_question);
  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_TRAIN_VIEW);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (visage_train_view_parent_class)->dispose (object);
}

static void
visage_train_view_finalize (GObject *object)
{
  VisageTrainView *self = VISAGE_TRAIN_VIEW (object);

  if (self->has_options)
    vg_train_options_clear (&self->options);
  g_free (self->optimizer);
  g_free (self->best_path);
  g_free (self->open_error);
  G_OBJECT_CLASS (visage_train_view_parent_class)->finalize (object);
}

static void
visage_train_view_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
  VisageTrainView *self = VISAGE_TRAIN_VIEW (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, visage_train_view_get_running (self));
      break;
    case PROP_READING:
      g_value_set_boolean (value, visage_train_view_get_reading (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
visage_train_view_class_init (VisageTrainViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_train_view_dispose;
  object_class->finalize = visage_train_view_finalize;
  object_class->get_property = visage_train_view_get_property;

  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_READING] =
    g_param_spec_boolean ("reading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_install_action (widget_class, "training.pause", NULL, pause_action);
  gtk_widget_class_install_action (widget_class, "training.resume", NULL, resume_action);
  gtk_widget_class_install_action (widget_class, "training.stop", NULL, stop_action);
  gtk_widget_class_install_action (widget_class, "training.use-best", NULL, use_best_action);
  gtk_widget_class_install_action (widget_class, "training.evaluate-best", NULL,
                                   use_best_action);
  gtk_widget_class_install_action (widget_class, "training.export-plot", "s",
                                   export_plot_action);
  gtk_widget_class_install_action (widget_class, "training.open-run", "s",
                                   _visage_train_view_open_run_action);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  g_type_ensure (VISAGE_TYPE_TRAIN_PLOT);
  visage_resources_ensure ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-train-view.ui");
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, stack);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, title_label);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, folder_label);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, phase_label);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, best_label);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, epoch_bar);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, run_bar);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, message_label);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, best_buttons);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, pause_button);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, resume_button);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, stop_button);
  gtk_widget_class_bind_template_child (widget_class, VisageTrainView, plot);
}

static void
visage_train_view_init (VisageTrainView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  _visage_train_view_update_labels (self);
}
