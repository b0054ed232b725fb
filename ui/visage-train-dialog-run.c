/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Train dialog's run in the output folder: its last.safetensors read on a worker
 * thread (the options and the schedule's state), what the resume row says of it, and its
 * options shown in the fields when it is resumed. */
#define G_LOG_DOMAIN "visage-train-dialog"

#include "config.h"

#include <glib/gi18n.h>

#include "vg-config.h"
#include "visage-train-choices.h"
#include "visage-train-dialog-private.h"

/* The modification time of dir/last.safetensors in microseconds, or 0 without one. */
static gint64
checkpoint_mtime (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "last.safetensors", NULL);
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GDateTime) mtime = NULL;

  if (dir[0] == '\0')
    return 0;
  info = g_file_query_info (file, G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                            G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                            G_FILE_QUERY_INFO_NONE, NULL, NULL);
  if (info == NULL || (mtime = g_file_info_get_modification_date_time (info)) == NULL)
    return 0;
  return g_date_time_to_unix (mtime) * G_USEC_PER_SEC + g_date_time_get_microsecond (mtime);
}

/* What the worker reads from the output folder's checkpoint. */
typedef struct {
  VgTrainOptions options;
  gboolean has_options;
  VgTrainState state;
  GError *error;             /* when the run cannot be resumed */
} RunInfo;

static void
run_info_free (RunInfo *info)
{
  if (info->has_options)
    vg_train_options_clear (&info->options);
  g_clear_error (&info->error);
  g_free (info);
}

/* On a worker: the run's options and the schedule's state from last.safetensors. */
static void
read_run (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  const char *dir = task_data;
  RunInfo *info = g_new0 (RunInfo, 1);

  if (vg_train_options_load (&info->options, dir, &info->error))
    {
      info->has_options = TRUE;
      if (!vg_train_state_load (&info->state, &info->options, dir, &info->error))
        {
          vg_train_options_clear (&info->options);
          info->has_options = FALSE;
        }
    }
  g_task_return_pointer (task, info, (GDestroyNotify) run_info_free);
}

static void
run_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  VisageTrainDialog *self = VISAGE_TRAIN_DIALOG (source);
  RunInfo *info = g_task_propagate_pointer (G_TASK (result), NULL);

  /* a read of an earlier folder, or of a dialog that has closed: dropped */
  if (info == NULL || g_task_get_cancellable (G_TASK (result)) != self->reading)
    {
      g_clear_pointer (&info, run_info_free);
      return;
    }
  g_clear_object (&self->reading);
  if (info->has_options)
    {
      self->resume_options = info->options;  /* moved */
      self->resume_state = info->state;
      self->has_resume_options = TRUE;
      info->has_options = FALSE;
    }
  else
    self->resume_error = g_strdup (info->error->message);
  run_info_free (info);
  if (gtk_switch_get_active (self->resume_switch))
    _visage_train_dialog_fill_from_run (self);
  _visage_train_dialog_check (self);
}

/* The run in the output folder. Its checkpoint is read once per folder and version of
 * last.safetensors (its modification time), on a worker thread, not at every keystroke:
 * a change elsewhere in the dialog costs one stat. */
void
_visage_train_dialog_refresh_run (VisageTrainDialog *self, const char *out)
{
  gint64 mtime = checkpoint_mtime (out);
  g_autoptr (GTask) task = NULL;

  if (g_strcmp0 (out, self->resume_dir) == 0 && mtime == self->resume_mtime)
    return;
  g_free (self->resume_dir);
  self->resume_dir = g_strdup (out);
  self->resume_mtime = mtime;
  if (self->has_resume_options)
    vg_train_options_clear (&self->resume_options);
  self->has_resume_options = FALSE;
  g_clear_pointer (&self->resume_error, g_free);
  if (self->reading != NULL)
    g_cancellable_cancel (self->reading);
  g_clear_object (&self->reading);
  if (mtime == 0)
    return;
  self->reading = g_cancellable_new ();
  task = g_task_new (self, self->reading, run_read, NULL);
  g_task_set_source_tag (task, _visage_train_dialog_refresh_run);
  g_task_set_task_data (task, g_strdup (out), g_free);
  g_task_run_in_thread (task, read_run);
}

/* The resume row's line: the run in the folder, and where it stands. */
char *
_visage_train_dialog_run_subtitle (VisageTrainDialog *self)
{
  const VgTrainState *st = &self->resume_state;

  if (self->reading != NULL)
    return g_strdup (_("Reading the run in this folder…"));
  if (!self->has_resume_options)
    return g_strdup (self->resume_error != NULL ? self->resume_error : "");
  if (st->finished)
    /* TRANSLATORS: the configuration's name and the epochs done */
    return g_strdup_printf (_("This folder holds a finished run of %s: its optimiser schedule "
                              "ended it after epoch %d"), self->resume_options.config.name,
                            st->epoch);
  if (st->epoch >= self->resume_options.epochs)
    return g_strdup_printf (_("This folder holds a run of %s that reached its limit of %d "
                              "epochs: raise the limit to go on"),
                            self->resume_options.config.name, self->resume_options.epochs);
  return g_strdup_printf (_("This folder holds a run of %s, stopped after epoch %d of %d"),
                          self->resume_options.config.name, st->epoch,
                          self->resume_options.epochs);
}

static void
select_choice (AdwComboRow *row, const VisageTrainChoices *choices, const char *name)
{
  for (guint k = 0; visage_train_choice_name (choices, k) != NULL; k++)
    if (g_str_equal (visage_train_choice_name (choices, k), name))
      adw_combo_row_set_selected (row, k);
}

/* The options of the run in the output folder, in the fields (without checking each). */
void
_visage_train_dialog_fill_from_run (VisageTrainDialog *self)
{
  const VgTrainOptions *o = &self->resume_options;
  const char *config = o->config.name;

  g_return_if_fail (self->has_resume_options);

  self->filling = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->train_row), o->train_dir != NULL ? o->train_dir
                         : o->train_images != NULL ? o->train_images : "");
  gtk_editable_set_text (GTK_EDITABLE (self->val_row), o->val_dir != NULL ? o->val_dir
                         : o->val_images != NULL ? o->val_images : "");
  /* A baseline has no custom sizes: its architecture's configuration. */
  if (o->config.arch != VG_ARCH_SEGFORMER)
    config = vg_config_arch_name (o->config.arch);
  else if (!g_strv_contains (vg_config_names (), config))
    config = "custom";
  select_choice (self->config_row, &visage_train_config_choices, config);
  _visage_train_dialog_set_stages (self->widths_row, o->config.widths);
  _visage_train_dialog_set_stages (self->depths_row, o->config.depths);
  _visage_train_dialog_set_stages (self->heads_row, o->config.heads);
  _visage_train_dialog_set_stages (self->ratios_row, o->config.ratios);
  gtk_spin_button_set_value (self->seed_spin, (double) o->seed);
  gtk_spin_button_set_value (self->resolution_spin, o->resolution);
  gtk_spin_button_set_value (self->batch_spin, o->batch);
  gtk_spin_button_set_value (self->epochs_spin, o->epochs);
  gtk_switch_set_active (self->augment_switch, o->augment);
  gtk_switch_set_active (self->hflip_switch, o->hflip);
  adw_combo_row_set_selected (self->loss_row, o->loss);
  adw_combo_row_set_selected (self->optimizer_row, o->optimizer);
  adw_combo_row_set_selected (self->select_row, o->select);
  _visage_train_dialog_set_double (self->lr_row, o->lr);
  _visage_train_dialog_set_double (self->weight_decay_row, o->weight_decay);
  gtk_spin_button_set_value (self->patience_spin, o->patience);
  _visage_train_dialog_set_double (self->sgd_lr_row, o->sgd_lr);
  _visage_train_dialog_set_double (self->sgd_momentum_row, o->sgd_momentum);
  _visage_train_dialog_set_double (self->sgd_min_lr_row, o->sgd_min_lr);
  gtk_spin_button_set_value (self->cosine_t_spin, o->cosine_t);
  _visage_train_dialog_set_double (self->cosine_floor_row, o->cosine_floor);
  _visage_train_dialog_set_double (self->ema_row, o->ema);
  _visage_train_dialog_set_double (self->oversample_row, o->oversample);
  self->filling = FALSE;
}
