/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-train-dialog"

#include "config.h"

#include <math.h>
#include <stddef.h>

#include <glib/gi18n.h>

#include "visage-format.h"
#include "visage-paths.h"
#include "visage-resources.h"
#include "visage-train-choices.h"
#include "visage-train-dialog-private.h"
#include "visage-file-chooser.h"

G_DEFINE_FINAL_TYPE (VisageTrainDialog, visage_train_dialog, ADW_TYPE_WINDOW)

enum {
  SIGNAL_START,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef enum { FIELD_ENTRY, FIELD_SPIN, FIELD_COMBO, FIELD_SWITCH } FieldKind;

static const struct {
  const char *name;
  FieldKind kind;
  gsize offset;
  const VisageTrainChoices *choices;
} fields[] = {
  { "out", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, out_row), NULL },
  { "resume", FIELD_SWITCH, G_STRUCT_OFFSET (VisageTrainDialog, resume_switch), NULL },
  { "train", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, train_row), NULL },
  { "val", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, val_row), NULL },
  { "config", FIELD_COMBO, G_STRUCT_OFFSET (VisageTrainDialog, config_row),
    &visage_train_config_choices },
  { "widths", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, widths_row), NULL },
  { "depths", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, depths_row), NULL },
  { "heads", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, heads_row), NULL },
  { "ratios", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, ratios_row), NULL },
  { "seed", FIELD_SPIN, G_STRUCT_OFFSET (VisageTrainDialog, seed_spin), NULL },
  { "resolution", FIELD_SPIN, G_STRUCT_OFFSET (VisageTrainDialog, resolution_spin), NULL },
  { "batch", FIELD_SPIN, G_STRUCT_OFFSET (VisageTrainDialog, batch_spin), NULL },
  { "epochs", FIELD_SPIN, G_STRUCT_OFFSET (VisageTrainDialog, epochs_spin), NULL },
  { "augment", FIELD_SWITCH, G_STRUCT_OFFSET (VisageTrainDialog, augment_switch), NULL },
  { "hflip", FIELD_SWITCH, G_STRUCT_OFFSET (VisageTrainDialog, hflip_switch), NULL },
  { "loss", FIELD_COMBO, G_STRUCT_OFFSET (VisageTrainDialog, loss_row),
    &visage_train_loss_choices },
  { "optimizer", FIELD_COMBO, G_STRUCT_OFFSET (VisageTrainDialog, optimizer_row),
    &visage_train_optimizer_choices },
  { "lr", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, lr_row), NULL },
  { "weight-decay", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, weight_decay_row), NULL },
  { "patience", FIELD_SPIN, G_STRUCT_OFFSET (VisageTrainDialog, patience_spin), NULL },
  { "sgd-lr", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, sgd_lr_row), NULL },
  { "sgd-momentum", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, sgd_momentum_row), NULL },
  { "sgd-min-lr", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, sgd_min_lr_row), NULL },
  { "cosine-t", FIELD_SPIN, G_STRUCT_OFFSET (VisageTrainDialog, cosine_t_spin), NULL },
  { "cosine-floor", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, cosine_floor_row), NULL },
  { "ema", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, ema_row), NULL },
  { "oversample", FIELD_ENTRY, G_STRUCT_OFFSET (VisageTrainDialog, oversample_row), NULL },
  { "select", FIELD_COMBO, G_STRUCT_OFFSET (VisageTrainDialog, select_row),
    &visage_train_select_choices },
};

#define FIELD_WIDGET(self, i) (*(GtkWidget **) G_STRUCT_MEMBER_P ((self), fields[i].offset))

/* ---- checking --------------------------------------------------------------------------- */

/* Mark a row as wrong, and keep the first problem found as the reason shown. */
static void
problem (VisageTrainDialog *self, gpointer row, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
problem (VisageTrainDialog *self, gpointer row, const char *format, ...)
{
  va_list args;

  if (row != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (row), "error");
  if (self->problem != NULL)
    return;
  va_start (args, format);
  self->problem = g_strdup_vprintf (format, args);
  va_end (args);
}

static char *
entry_text (AdwEntryRow *row)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (row))));
}

/* A number typed into an entry row: FALSE (row marked) unless the whole text is one. */
static gboolean
entry_double (VisageTrainDialog *self, AdwEntryRow *row, double *out)
{
  g_autofree char *text = entry_text (row);
  char *end = NULL;

  *out = g_ascii_strtod (text, &end);
  if (text[0] == '\0' || end == NULL || *end != '\0' || !isfinite (*out))
    {
      /* TRANSLATORS: %s is the title of a field of the Train dialog */
      problem (self, row, _("%s: enter a number such as 0.001 or 1e-7"),
               adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
      return FALSE;
    }
  return TRUE;
}

/* "16,32,128,192" into a spec key; FALSE (row marked) unless four positive integers. */
static gboolean
entry_stages (VisageTrainDialog *self, AdwEntryRow *row, const char *key, GString *spec)
{
  g_autofree char *text = entry_text (row);
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  guint n = g_strv_length (parts);

  for (guint i = 0; i < n; i++)
    {
      guint64 v;

      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 65536, &v, NULL))
        n = 0;
    }
  if (n != VG_STAGES)
    {
      problem (self, row, _("%s: enter four whole numbers separated by commas, such as "
                            "16,32,128,192"),
               adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
      return FALSE;
    }
  g_string_append_printf (spec, "%s=%s ", key, text);
  return TRUE;
}

static gboolean
is_split_dir (const char *dir)
{
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autofree char *masks = g_build_filename (dir, "masks", NULL);

  return g_file_test (images, G_FILE_TEST_IS_DIR) && g_file_test (masks, G_FILE_TEST_IS_DIR);
}

/* A split folder from an entry row, or NULL (row marked). */
static char *
entry_split (VisageTrainDialog *self, AdwEntryRow *row, gboolean training)
{
  g_autofree char *dir = entry_text (row);

  if (dir[0] == '\0')
    problem (self, row, training ? _("Choose the training split folder")
                                 : _("Choose the validation split folder"));
  else if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    problem (self, row, training ? _("The training split folder does not exist: %s")
                                 : _("The validation split folder does not exist: %s"), dir);
  else if (!is_split_dir (dir))
    problem (self, row, training
                        ? _("The training split folder has no images/ and masks/ folders: %s")
                        : _("The validation split folder has no images/ and masks/ folders: "
                            "%s"), dir);
  else
    return g_steal_pointer (&dir);
  return NULL;
}

static guint
combo_selected (AdwComboRow *row)
{
  return adw_combo_row_get_selected (row);
}

/* Clear the marks of the last check. */
static void
clear_problems (VisageTrainDialog *self)
{
  g_clear_pointer (&self->problem, g_free);
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      GtkWidget *w = FIELD_WIDGET (self, i);
      GtkWidget *row = ADW_IS_PREFERENCES_ROW (w) ? w
                       : gtk_widget_get_ancestor (w, ADW_TYPE_PREFERENCES_ROW);

      gtk_widget_remove_css_class (w, "error");
      if (row != NULL)
        gtk_widget_remove_css_class (row, "error");
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->resolution_row), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->batch_row), "error");
  gtk_widget_remove_css_class (GTK_WIDGET (self->resume_row), "error");
}

/* The output folder, checked first: a run there changes what the rest means. Returns
 * whether that run is resumed. */
static gboolean
check_output (VisageTrainDialog *self, const char *out)
{
  g_autofree char *subtitle = NULL;
  gboolean resume;

  _visage_train_dialog_refresh_run (self, out);
  gtk_widget_set_visible (GTK_WIDGET (self->resume_row), self->reading != NULL
                          || self->has_resume_options || self->resume_error != NULL);
  resume = gtk_switch_get_active (self->resume_switch) && self->has_resume_options;
  subtitle = _visage_train_dialog_run_subtitle (self);
  adw_action_row_set_subtitle (self->resume_row, subtitle);
  /* A resumed run keeps its options (shown greyed): only the epoch limit may change. */
  gtk_widget_set_sensitive (GTK_WIDGET (self->data_group), !resume);
  gtk_widget_set_sensitive (GTK_WIDGET (self->model_group), !resume);
  gtk_widget_set_sensitive (GTK_WIDGET (self->optimizer_group), !resume);
  gtk_widget_set_sensitive (GTK_WIDGET (self->resolution_row), !resume);
  gtk_widget_set_sensitive (GTK_WIDGET (self->batch_row), !resume);
  gtk_widget_set_sensitive (GTK_WIDGET (self->augment_row), !resume);
  gtk_widget_set_sensitive (GTK_WIDGET (self->hflip_row), !resume);
  gtk_widget_set_sensitive (GTK_WIDGET (self->loss_row), !resume);
  gtk_button_set_label (self->start_button, resume ? _("_Resume") : _("_Start"));

  if (out[0] == '\0')
    problem (self, self->out_row, _("Choose the output folder"));
  else if (g_file_test (out, G_FILE_TEST_EXISTS) && !g_file_test (out, G_FILE_TEST_IS_DIR))
    problem (self, self->out_row, _("The output folder is a file: %s"), out);
  else if (self->reading != NULL)
    problem (self, NULL, _("Reading the run in the output folder…"));
  else if (self->resume_error != NULL)
    problem (self, self->out_row, _("The output folder holds a run that cannot be resumed: %s"),
             self->resume_error);
  else if (self->has_resume_options && !resume)
    problem (self, self->resume_row, _("The output folder holds a training run: resume it, or "
                                       "choose another folder"));
  else if (resume && self->resume_state.finished)
    problem (self, self->resume_row, _("This run has finished: its optimiser schedule ended "
                                       "it after epoch %d. Choose another output folder for "
                                       "a new run"), self->resume_state.epoch);
  return resume;
}

static void
check_epochs (VisageTrainDialog *self, VgTrainOptions *o)
{
  o->epochs = gtk_spin_button_get_value_as_int (self->epochs_spin);
  if (o->epochs < 1)
    problem (self, self->epochs_spin, _("Train for at least 1 epoch"));
  else if (o->resume && o->epochs <= self->resume_state.epoch)
    problem (self, self->epochs_spin, _("The run has done %d epochs: raise the epoch limit "
                                        "above that to resume it"), self->resume_state.epoch);
}

/* The stage sizes show for a custom configuration (a resumed run's too). */
static void
show_stage_rows (VisageTrainDialog *self)
{
  gboolean custom = g_strcmp0 (visage_train_choice_name (&visage_train_config_choices,
                                                         combo_selected (self->config_row)),
                               "custom") == 0;

  gtk_widget_set_visible (GTK_WIDGET (self->widths_row), custom);
  gtk_widget_set_visible (GTK_WIDGET (self->depths_row), custom);
  gtk_widget_set_visible (GTK_WIDGET (self->heads_row), custom);
  gtk_widget_set_visible (GTK_WIDGET (self->ratios_row), custom);
}

/* The model: a named configuration, or visage-s with other stage sizes. Sets
 * param_count (0 while the configuration is invalid). */
static void
check_model (VisageTrainDialog *self, VgConfig *config)
{
  const char *choice = visage_train_choice_name (&visage_train_config_choices,
                                                 combo_selected (self->config_row));
  g_autoptr (GString) spec = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  gboolean custom = g_strcmp0 (choice, "custom") == 0, ok = TRUE;

  vg_config_from_name (config, choice != NULL && !custom ? choice : "visage-s", NULL);
  if (custom)
    {
      ok &= entry_stages (self, self->widths_row, "widths", spec);
      ok &= entry_stages (self, self->depths_row, "depths", spec);
      ok &= entry_stages (self, self->heads_row, "heads", spec);
      ok &= entry_stages (self, self->ratios_row, "ratios", spec);
      if (ok && !vg_config_parse (config, spec->str, &error))
        {
          problem (self, self->widths_row, _("Configuration: %s"), error->message);
          g_clear_error (&error);
          ok = FALSE;
        }
      if (ok)
        g_strlcpy (config->name, "custom", sizeof config->name);
    }
  if (ok && !vg_config_validate (config, &error))
    {
      problem (self, custom ? (gpointer) self->widths_row : (gpointer) self->config_row,
               _("Configuration: %s"), error->message);
      ok = FALSE;
    }
  self->param_count = ok ? vg_config_count_params (config) : 0;
}

/* Resolution, batch, epochs, augmentation, loss and the optimiser's choices. */
static void
check_schedule (VisageTrainDialog *self, VgTrainOptions *o)
{
  o->seed = (uint64_t) gtk_spin_button_get_value (self->seed_spin);
  o->resolution = gtk_spin_button_get_value_as_int (self->resolution_spin);
  if (o->resolution % 32 != 0)
    problem (self, self->resolution_row, _("The resolution must be a multiple of 32, or 0 "
                                           "for the images’ own size"));
  o->batch = gtk_spin_button_get_value_as_int (self->batch_spin);
  if (o->batch < 1)
    problem (self, self->batch_row, _("The batch size must be at least 1"));
  check_epochs (self, o);
  o->augment = gtk_switch_get_active (self->augment_switch);
  o->hflip = gtk_switch_get_active (self->hflip_switch);
  o->loss = (VgLossKind) combo_selected (self->loss_row);
  o->optimizer = (VgOptimizerKind) combo_selected (self->optimizer_row);
  o->select = (VgSelectKind) combo_selected (self->select_row);
  o->patience = gtk_spin_button_get_value_as_int (self->patience_spin);
  o->cosine_t = gtk_spin_button_get_value_as_int (self->cosine_t_spin);
}

/* A number the Train dialog takes in an entry row: the row, the option it sets (whose range
 * is the engine's, vg_train_range) and the reason shown outside it. */
typedef struct
{
  glong row;            /* of the AdwEntryRow * in VisageTrainDialog */
  const char *key;      /* the option's, as vg_train_range takes it */
  const char *reason;   /* N_() */
} NumberField;

#define ROW(name) G_STRUCT_OFFSET (VisageTrainDialog, name)

static const NumberField number_fields[] = {
  { ROW (lr_row), "lr", N_("The learning rate must be more than 0") },
  { ROW (weight_decay_row), "weight-decay", N_("The weight decay must be 0 or more") },
  { ROW (sgd_lr_row), "sgd-lr", N_("SGD’s learning rate must be more than 0") },
  { ROW (sgd_momentum_row), "sgd-momentum",
    N_("The momentum must be at least 0 and less than 1") },
  { ROW (sgd_min_lr_row), "sgd-min-lr", N_("The minimum learning rate must be more than 0") },
  { ROW (cosine_floor_row), "cosine-floor", N_("The cosine’s floor must be between 0 and 1") },
  { ROW (ema_row), "ema",
    N_("The moving average’s decay must be at least 0 and less than 1") },
  { ROW (oversample_row), "oversample",
    N_("The oversampling threshold must be between 0 and 1") },
};

#undef ROW

/* The optimisers' rates, momentum and the other numbers typed into entries, each into its
 * option, checked against the engine's range for it. */
static void
check_rates (VisageTrainDialog *self, VgTrainOptions *o)
{
  for (gsize i = 0; i < G_N_ELEMENTS (number_fields); i++)
    {
      const NumberField *f = &number_fields[i];
      const VgTrainRange *range = vg_train_range (f->key);
      AdwEntryRow *row = G_STRUCT_MEMBER (AdwEntryRow *, self, f->row);
      double v;

      g_assert (range != NULL);
      if (!entry_double (self, row, &v))
        continue;
      G_STRUCT_MEMBER (double, o, range->offset) = v;
      if (!vg_train_range_holds (range, v))
        problem (self, row, "%s", _(f->reason));
    }
}

/* The parameter count, the budget warning, and Start with the first problem's reason. */
static void
show_verdict (VisageTrainDialog *self, gboolean resume)
{
  if (!resume)
    {
      g_autofree char *count = visage_format_count (self->param_count);

      adw_action_row_set_subtitle (self->params_row, self->param_count > 0 ? count : "–");
    }
  gtk_widget_set_visible (GTK_WIDGET (self->params_row), !resume);
  gtk_widget_set_visible (GTK_WIDGET (self->budget_row),
                          !resume && self->param_count > VISAGE_TRAIN_PARAM_BUDGET);

  gtk_widget_set_sensitive (GTK_WIDGET (self->start_button), self->problem == NULL);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->start_button), self->problem);
  gtk_label_set_label (self->problem_label, self->problem != NULL ? self->problem : "");
  gtk_revealer_set_reveal_child (self->problem_revealer, self->problem != NULL);
}

/* Check every field, in the order of the dialog: the first problem found is the reason
 * shown, and the options are what Start uses when there is none. */
void
_visage_train_dialog_check (VisageTrainDialog *self)
{
  g_autofree char *out = entry_text (self->out_row);
  VgTrainOptions *o = &self->options;
  g_autoptr (GError) error = NULL;
  gboolean resume;

  clear_problems (self);
  vg_train_options_clear (o);
  vg_train_options_init (o);
  resume = check_output (self, out);
  show_stage_rows (self);
  if (resume)
    {
      vg_train_options_clear (o);
      vg_train_options_copy (o, &self->resume_options);
      check_epochs (self, o);
    }
  else
    {
      o->train_dir = entry_split (self, self->train_row, TRUE);
      o->val_dir = entry_split (self, self->val_row, FALSE);
      o->out_dir = g_strdup (out);
      check_model (self, &o->config);
      check_schedule (self, o);
      check_rates (self, o);
    }
  /* Whatever the fields above do not cover, as vg_train_run would refuse it. */
  if (self->problem == NULL && !vg_train_options_validate (o, &error))
    problem (self, NULL, "%s", error->message);
  show_verdict (self, resume);
}

static void
changed (VisageTrainDialog *self)
{
  if (!self->filling)
    _visage_train_dialog_check (self);
}

/* Turning Resume on shows the run's own options in the (greyed) fields, and its epoch
 * limit, which may then change. */
static void
resume_toggled (VisageTrainDialog *self)
{
  if (gtk_switch_get_active (self->resume_switch) && self->has_resume_options)
    _visage_train_dialog_fill_from_run (self);
  _visage_train_dialog_check (self);
}

/* ---- folder choosers -------------------------------------------------------------------- */

static void
folder_chosen (const char *path, gpointer user_data)
{
  gtk_editable_set_text (GTK_EDITABLE (user_data), path);
}

static void
choose_folder (VisageTrainDialog *self, AdwEntryRow *row)
{
  g_autofree char *current = entry_text (row);
  g_autoptr (GFile) parent = NULL;

  if (current[0] != '\0')
    {
      g_autoptr (GFile) file = g_file_new_for_path (current);

      parent = g_file_get_parent (file);
    }
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) {
                        .title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)),
                        .action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                        .accept_label = _("_Select"),
                        .folder = parent },
                      folder_chosen, g_object_ref (row), g_object_unref);
}

static void
choose_train (VisageTrainDialog *self)
{
  choose_folder (self, self->train_row);
}

static void
choose_val (VisageTrainDialog *self)
{
  choose_folder (self, self->val_row);
}

static void
choose_out (VisageTrainDialog *self)
{
  choose_folder (self, self->out_row);
}

static void
cancel_clicked (VisageTrainDialog *self)
{
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
start_clicked (VisageTrainDialog *self)
{
  visage_train_dialog_start (self);
}

/* ---- API -------------------------------------------------------------------------------- */

void
_visage_train_dialog_set_double (AdwEntryRow *row, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  gtk_editable_set_text (GTK_EDITABLE (row), g_ascii_formatd (buf, sizeof buf, "%g", value));
}

void
_visage_train_dialog_set_stages (AdwEntryRow *row, const int *v)
{
  g_autofree char *text = g_strdup_printf ("%d,%d,%d,%d", v[0], v[1], v[2], v[3]);

  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

/* The training split to propose: the validation split's sibling "train", else the shared
 * data set's beside the source tree. */
static char *
default_train_dir (const char *val_dir)
{
  g_autofree char *shared = g_build_filename (VISAGE_SOURCE_DIR, "..", "shared", "celebamask",
                                              "train", NULL);

  if (val_dir != NULL)
    {
      g_autofree char *parent = g_path_get_dirname (val_dir);
      g_autofree char *sibling = g_build_filename (parent, "train", NULL);

      if (is_split_dir (sibling) && !g_str_equal (sibling, val_dir))
        return g_steal_pointer (&sibling);
    }
  if (is_split_dir (shared))
    return g_canonicalize_filename (shared, NULL);
  return NULL;
}

/* A new folder under the user's data folder, named by the time. */
static char *
default_out_dir (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *name = g_date_time_format (now, "run-%Y%m%d-%H%M%S");

  return g_build_filename (g_get_user_data_dir (), "visage", "runs", name, NULL);
}

VisageTrainDialog *
visage_train_dialog_new (GtkWindow *parent, const char *val_dir)
{
  VisageTrainDialog *self = g_object_new (VISAGE_TYPE_TRAIN_DIALOG, "transient-for", parent,
                                          "modal", TRUE, NULL);
  g_autofree char *train = default_train_dir (val_dir);
  g_autofree char *out = default_out_dir ();
  VgTrainOptions defaults;
  VgConfig base;

  vg_train_options_init (&defaults);
  vg_config_from_name (&base, "visage-s", NULL);
  if (train != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->train_row), train);
  if (val_dir != NULL)
    gtk_editable_set_text (GTK_EDITABLE (self->val_row), val_dir);
  gtk_editable_set_text (GTK_EDITABLE (self->out_row), out);
  _visage_train_dialog_set_stages (self->widths_row, base.widths);
  _visage_train_dialog_set_stages (self->depths_row, base.depths);
  _visage_train_dialog_set_stages (self->heads_row, base.heads);
  _visage_train_dialog_set_stages (self->ratios_row, base.ratios);
  gtk_spin_button_set_value (self->seed_spin, (double) defaults.seed);
  gtk_spin_button_set_value (self->resolution_spin, defaults.resolution);
  gtk_spin_button_set_value (self->batch_spin, defaults.batch);
  gtk_spin_button_set_value (self->epochs_spin, defaults.epochs);
  gtk_switch_set_active (self->augment_switch, defaults.augment);
  gtk_switch_set_active (self->hflip_switch, defaults.hflip);
  adw_combo_row_set_selected (self->loss_row, defaults.loss);
  adw_combo_row_set_selected (self->optimizer_row, defaults.optimizer);
  adw_combo_row_set_selected (self->select_row, defaults.select);
  _visage_train_dialog_set_double (self->lr_row, defaults.lr);
  _visage_train_dialog_set_double (self->weight_decay_row, defaults.weight_decay);
  gtk_spin_button_set_value (self->patience_spin, defaults.patience);
  _visage_train_dialog_set_double (self->sgd_lr_row, defaults.sgd_lr);
  _visage_train_dialog_set_double (self->sgd_momentum_row, defaults.sgd_momentum);
  _visage_train_dialog_set_double (self->sgd_min_lr_row, defaults.sgd_min_lr);
  gtk_spin_button_set_value (self->cosine_t_spin, defaults.cosine_t);
  _visage_train_dialog_set_double (self->cosine_floor_row, defaults.cosine_floor);
  _visage_train_dialog_set_double (self->ema_row, defaults.ema);
  _visage_train_dialog_set_double (self->oversample_row, defaults.oversample);
  vg_train_options_clear (&defaults);
  _visage_train_dialog_check (self);
  return self;
}

static int
field_index (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (g_str_equal (fields[i].name, name))
      return (int) i;
  return -1;
}

gboolean
visage_train_dialog_set_field (VisageTrainDialog *self, const char *name, const char *value)
{
  int i;
  GtkWidget *w;

  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), FALSE);
  g_return_val_if_fail (name != NULL && value != NULL, FALSE);

  if ((i = field_index (name)) < 0)
    return FALSE;
  w = FIELD_WIDGET (self, i);
  switch (fields[i].kind)
    {
    case FIELD_ENTRY:
      gtk_editable_set_text (GTK_EDITABLE (w), value);
      return TRUE;
    case FIELD_SPIN:
      {
        char *end;
        double v = g_ascii_strtod (value, &end);

        if (*value == '\0' || *end != '\0')
          return FALSE;
        gtk_spin_button_set_value (GTK_SPIN_BUTTON (w), v);
        return TRUE;
      }
    case FIELD_SWITCH:
      if (!g_str_equal (value, "true") && !g_str_equal (value, "false"))
        return FALSE;
      gtk_switch_set_active (GTK_SWITCH (w), g_str_equal (value, "true"));
      return TRUE;
    case FIELD_COMBO:
      for (guint k = 0; visage_train_choice_name (fields[i].choices, k) != NULL; k++)
        if (g_str_equal (visage_train_choice_name (fields[i].choices, k), value))
          {
            adw_combo_row_set_selected (ADW_COMBO_ROW (w), k);
            return TRUE;
          }
      return FALSE;
    default:
      g_return_val_if_reached (FALSE);
    }
}

const char *
visage_train_dialog_get_field (VisageTrainDialog *self, const char *name)
{
  int i;
  GtkWidget *w;

  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if ((i = field_index (name)) < 0)
    return NULL;
  w = FIELD_WIDGET (self, i);
  g_clear_pointer (&self->field_text, g_free);
  switch (fields[i].kind)
    {
    case FIELD_ENTRY:
      return gtk_editable_get_text (GTK_EDITABLE (w));
    case FIELD_SPIN:
      self->field_text = g_strdup_printf ("%d",
                                          gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (w)));
      return self->field_text;
    case FIELD_SWITCH:
      return gtk_switch_get_active (GTK_SWITCH (w)) ? "true" : "false";
    case FIELD_COMBO:
      return visage_train_choice_name (fields[i].choices,
                                       adw_combo_row_get_selected (ADW_COMBO_ROW (w)));
    default:
      g_return_val_if_reached (NULL);
    }
}

const char *
visage_train_dialog_get_problem (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), NULL);

  return self->problem;
}

gboolean
visage_train_dialog_get_can_start (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), FALSE);

  return self->problem == NULL
         && gtk_widget_get_sensitive (GTK_WIDGET (self->start_button));
}

gsize
visage_train_dialog_get_param_count (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), 0);

  return self->param_count;
}

char *
visage_train_dialog_get_param_text (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), NULL);

  return g_strdup (adw_action_row_get_subtitle (self->params_row));
}

gboolean
visage_train_dialog_get_budget_warning (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), FALSE);

  return gtk_widget_get_visible (GTK_WIDGET (self->budget_row));
}

gboolean
visage_train_dialog_get_resume_offered (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), FALSE);

  return self->has_resume_options && gtk_widget_get_visible (GTK_WIDGET (self->resume_row));
}

gboolean
visage_train_dialog_get_reading_run (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), FALSE);

  return self->reading != NULL;
}

const VgTrainOptions *
visage_train_dialog_get_options (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), NULL);

  return &self->options;
}

gboolean
visage_train_dialog_start (VisageTrainDialog *self)
{
  g_return_val_if_fail (VISAGE_IS_TRAIN_DIALOG (self), FALSE);

  /* The folders may have changed on disk since the last edit. */
  _visage_train_dialog_check (self);
  if (self->problem != NULL)
    return FALSE;
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_START], 0, &self->options);
  gtk_window_destroy (GTK_WINDOW (self));
  g_object_unref (self);
  return TRUE;
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
visage_train_dialog_dispose (GObject *object)
{
  VisageTrainDialog *self = VISAGE_TRAIN_DIALOG (object);

  if (self->reading != NULL)
    g_cancellable_cancel (self->reading);
  g_clear_object (&self->reading);
  gtk_widget_dispose_template (GTK_WIDGET (object), VISAGE_TYPE_TRAIN_DIALOG);
  G_OBJECT_CLASS (visage_train_dialog_parent_class)->dispose (object);
}

static void
visage_train_dialog_finalize (GObject *object)
{
  VisageTrainDialog *self = VISAGE_TRAIN_DIALOG (object);

  vg_train_options_clear (&self->options);
  if (self->has_resume_options)
    vg_train_options_clear (&self->resume_options);
  g_free (self->problem);
  g_free (self->resume_dir);
  g_free (self->resume_error);
  g_free (self->field_text);
  G_OBJECT_CLASS (visage_train_dialog_parent_class)->finalize (object);
}

static void
visage_train_dialog_class_init (VisageTrainDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = visage_train_dialog_dispose;
  object_class->finalize = visage_train_dialog_finalize;

  /* ::start (const VgTrainOptions *): the options to train with, valid during the
   * emission. */
  signals[SIGNAL_START] =
    g_signal_new ("start", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_POINTER);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);

  visage_resources_ensure ();
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/visage/Visage/visage-train-dialog.ui");
#define BIND(name) gtk_widget_class_bind_template_child (widget_class, VisageTrainDialog, name)
  BIND (start_button);
  BIND (problem_revealer);
  BIND (problem_label);
  BIND (out_row);
  BIND (resume_row);
  BIND (resume_switch);
  BIND (train_row);
  BIND (val_row);
  BIND (config_row);
  BIND (widths_row);
  BIND (depths_row);
  BIND (heads_row);
  BIND (ratios_row);
  BIND (params_row);
  BIND (budget_row);
  BIND (seed_spin);
  BIND (resolution_spin);
  BIND (batch_spin);
  BIND (epochs_spin);
  BIND (augment_switch);
  BIND (hflip_switch);
  BIND (loss_row);
  BIND (optimizer_row);
  BIND (lr_row);
  BIND (weight_decay_row);
  BIND (patience_spin);
  BIND (sgd_lr_row);
  BIND (sgd_momentum_row);
  BIND (sgd_min_lr_row);
  BIND (cosine_t_spin);
  BIND (cosine_floor_row);
  BIND (ema_row);
  BIND (oversample_row);
  BIND (select_row);
  BIND (data_group);
  BIND (model_group);
  BIND (optimizer_group);
  BIND (resolution_row);
  BIND (batch_row);
  BIND (augment_row);
  BIND (hflip_row);
#undef BIND
  gtk_widget_class_bind_template_callback (widget_class, changed);
  gtk_widget_class_bind_template_callback (widget_class, resume_toggled);
  gtk_widget_class_bind_template_callback (widget_class, choose_train);
  gtk_widget_class_bind_template_callback (widget_class, choose_val);
  gtk_widget_class_bind_template_callback (widget_class, choose_out);
  gtk_widget_class_bind_template_callback (widget_class, cancel_clicked);
  gtk_widget_class_bind_template_callback (widget_class, start_clicked);
}

/* The combo rows' items: the engine's names under their labels (quietly: the dialog checks
 * itself once built). */
static void
fill_choices (VisageTrainDialog *self)
{
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    if (fields[i].kind == FIELD_COMBO)
      {
        GtkWidget *row = FIELD_WIDGET (self, i);
        g_autoptr (GListModel) items = visage_train_choices_new_model (fields[i].choices);

        g_signal_handlers_block_by_func (row, changed, self);
        adw_combo_row_set_model (ADW_COMBO_ROW (row), items);
        g_signal_handlers_unblock_by_func (row, changed, self);
      }
}

static void
visage_train_dialog_init (VisageTrainDialog *self)
{
  vg_train_options_init (&self->options);
  gtk_widget_init_template (GTK_WIDGET (self));
  fill_choices (self);
}
