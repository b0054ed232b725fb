/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The window's actions: every command of its menus, shortcuts and buttons, which tests
 * drive the same way. */
#define G_LOG_DOMAIN "visage-window"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "visage-export-choices.h"
#include "visage-file-chooser.h"
#include "visage-window-private.h"

static void
enable (VisageWindow *self, const char *name, gboolean enabled)
{
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (self), name);

  g_simple_action_set_enabled (G_SIMPLE_ACTION (action), enabled);
}

/* From the window's state: what is open and loaded, whether a job runs. */
void
_visage_window_actions_update (VisageWindow *self)
{
  gboolean has_model = vg_service_get_model_path (self->service) != NULL;
  gboolean working = self->job_cancellable != NULL;
  gboolean has_split = self->split != NULL;
  gboolean has_image = self->shown != NULL || self->live_path != NULL;

  enable (self, "evaluate",
          has_model && has_split && vg_split_has_masks (self->split) && !working);
  enable (self, "cancel", working);
  enable (self, "next-image", has_split);
  enable (self, "previous-image", has_split);
  enable (self, "export-image-mask", has_model && has_image && !working);
  enable (self, "export-image-overlay", has_model && has_image && !working);
  enable (self, "export-split-masks", has_model && has_split && !working);
  enable (self, "export-split-overlays", has_model && has_split && !working);
  enable (self, "export-submission", has_model && has_split && !working);
  enable (self, "save-annotation", visage_window_get_modified (self));
  enable (self, "edit-mask", self->annotation != NULL);
  enable (self, "save-annotation-over-truth",
          self->annotation != NULL && has_split && vg_split_has_masks (self->split));

  _visage_window_compare_actions_update (self);
  enable (self, "train", !visage_train_view_get_running (self->train_view));
  enable (self, "open-run", !visage_train_view_get_running (self->train_view));
}

static void
split_chosen (const char *path, gpointer user_data)
{
  visage_window_open_split (VISAGE_WINDOW (user_data), path);
}

static void
open_split_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autoptr (GFile) folder = NULL;

  if (self->split_dir != NULL)
    {
      g_autofree char *parent = g_path_get_dirname (self->split_dir);

      folder = g_file_new_for_path (parent);
    }
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) { .title = _("Open Split"),
                                             .action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                             .accept_label = _("_Open"),
                                             .folder = folder },
                      split_chosen, self, NULL);
}

static void
model_chosen (const char *path, gpointer user_data)
{
  visage_window_load_model (VISAGE_WINDOW (user_data), path);
}

void
_visage_window_choose_model (VisageWindow *self, const char *title, const char *accept_label,
                             VisageChosenFunc chosen)
{
  g_autoptr (GtkFileFilter) weights = gtk_file_filter_new ();
  g_autoptr (GtkFileFilter) all = gtk_file_filter_new ();

  gtk_file_filter_set_name (weights, _("Model Weights (safetensors)"));
  gtk_file_filter_add_suffix (weights, "safetensors");
  gtk_file_filter_set_name (all, _("All Files"));
  gtk_file_filter_add_pattern (all, "*");
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) { .title = title,
                                             .action = GTK_FILE_CHOOSER_ACTION_OPEN,
                                             .accept_label = accept_label,
                                             .filters = { weights, all } },
                      chosen, self, NULL);
}

static void
open_model_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  _visage_window_choose_model (VISAGE_WINDOW (user_data), _("Open Model"), _("_Open"),
                               model_chosen);
}

static void
evaluate_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  visage_window_evaluate (VISAGE_WINDOW (user_data));
}

static void
cancel_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;

  if (self->job_cancellable != NULL)
    g_cancellable_cancel (self->job_cancellable);
}

static void
next_image_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  _visage_window_step_image (VISAGE_WINDOW (user_data), 1);
}

static void
previous_image_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  _visage_window_step_image (VISAGE_WINDOW (user_data), -1);
}

static void
export_destination_chosen (const char *path, gpointer user_data)
{
  VisageChooserRequest *request = user_data;

  visage_window_export (VISAGE_WINDOW (request->owner), request->what, path);
}

/* The mask exports' choices: the formats, class and legend of the last export. */
static void
export_add_choices (GtkFileChooser *chooser, gpointer user_data)
{
  VisageChooserRequest *request = user_data;
  VisageWindow *self = request->owner;

  visage_export_choices_add (chooser, &self->export_options);
}

/* Kept for this export and offered again by the next (the overlay exports use the class
 * and legend too). */
static void
export_read_choices (GtkFileChooser *chooser, gpointer user_data)
{
  VisageChooserRequest *request = user_data;
  VisageWindow *self = request->owner;

  visage_export_choices_read (chooser, &self->export_options);
}

static void
export_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  const char *name = g_action_get_name (G_ACTION (action));
  const char *what = name + strlen ("export-");
  VisageChooserSpec spec = { .title = _("Export the Submission"),
                             .action = GTK_FILE_CHOOSER_ACTION_SAVE,
                             .accept_label = _("_Export"),
                             .current_name = "submission.zip" };

  if (g_str_equal (what, "split-masks") || g_str_equal (what, "split-overlays")
      || g_str_equal (what, "image-mask") || g_str_equal (what, "image-overlay"))
    spec = (VisageChooserSpec) { .title = _("Export into a Folder"),
                                 .action = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                 .accept_label = _("_Export") };
  if (g_str_equal (what, "split-masks") || g_str_equal (what, "image-mask"))
    {
      spec.title = _("Export Masks into a Folder");
      spec.add_choices = export_add_choices;
      spec.read_choices = export_read_choices;
    }
  visage_choose_path (GTK_WINDOW (self), &spec, export_destination_chosen,
                      visage_chooser_request_new (self, what), visage_chooser_request_free);
}

static void
image_chosen (const char *path, gpointer user_data)
{
  visage_window_open_image (VISAGE_WINDOW (user_data), path);
}

static void
open_image_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autoptr (GtkFileFilter) images = gtk_file_filter_new ();

  gtk_file_filter_set_name (images, _("JPEG and PNG Images"));
  gtk_file_filter_add_mime_type (images, "image/jpeg");
  gtk_file_filter_add_mime_type (images, "image/png");
  visage_choose_path (GTK_WINDOW (self),
                      &(VisageChooserSpec) { .title = _("Open Image"),
                                             .action = GTK_FILE_CHOOSER_ACTION_OPEN,
                                             .accept_label = _("_Open"),
                                             .filters = { images } },
                      image_chosen, self, NULL);
}

static void
save_annotation_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;
  g_autoptr (GError) error = NULL;

  if (!visage_window_save_annotation (self, &error))
    _visage_window_toast (self, error->message);
}

/* E wherever the focus is: edit mode on or off, on the Browse page where the mask shows. */
static void
edit_mask_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;

  if (self->annotation == NULL)
    return;
  adw_view_stack_set_visible_child_name (self->view_stack, "browse");
  visage_image_view_set_editing (self->image_view,
                                 !visage_image_view_get_editing (self->image_view));
}

/* Undo and redo of the mask wherever the focus is (a text field keeps its own). */
static gboolean
undo_shortcut (GtkWidget *widget, GVariant *args, gpointer user_data)
{
  VisageWindow *self = VISAGE_WINDOW (widget);

  if (self->annotation == NULL)
    return FALSE;
  return gtk_widget_activate_action (GTK_WIDGET (self->image_view), user_data, NULL);
}

/* The window's own keys, in the bubble phase: a focused text field or the image view
 * handles a key first, any other focus passes it on to here. */
static void
add_shortcuts (VisageWindow *self)
{
  GtkEventController *controller = gtk_shortcut_controller_new ();
  GtkShortcutController *shortcuts = GTK_SHORTCUT_CONTROLLER (controller);

  gtk_event_controller_set_name (controller, "visage-window-shortcuts");
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_BUBBLE);
  gtk_shortcut_controller_add_shortcut (shortcuts,
    gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_e, 0),
                      gtk_named_action_new ("win.edit-mask")));
  gtk_shortcut_controller_add_shortcut (shortcuts,
    gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_z, GDK_CONTROL_MASK),
                      gtk_callback_action_new (undo_shortcut, (gpointer) "image.undo", NULL)));
  gtk_shortcut_controller_add_shortcut (shortcuts,
    gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_z, GDK_CONTROL_MASK | GDK_SHIFT_MASK),
                      gtk_callback_action_new (undo_shortcut, (gpointer) "image.redo", NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), controller);
}

static void
save_over_truth_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  _visage_window_ask_replace_truth (VISAGE_WINDOW (user_data));
}

/* Load the loaded model again (after a change of device or flip), if there is one. */
static void
reload_model (VisageWindow *self)
{
  const char *path = vg_service_get_model_path (self->service);

  if (path != NULL)
    {
      g_autofree char *reload = g_strdup (path);
      gboolean bundled = self->bundled_model;

      visage_window_load_model (self, reload);
      self->bundled_model = bundled;
    }
}

void
visage_window_set_device (VisageWindow *self, const char *device)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));
  g_return_if_fail (device != NULL);

  g_action_group_change_action_state (G_ACTION_GROUP (self), "device",
                                      g_variant_new_string (device));
}

/* The compute device: kept in GSettings, and the loaded model moves to it. */
static void
device_change_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  VisageWindow *self = user_data;
  const char *device = g_variant_get_string (state, NULL);

  if (!g_str_equal (device, "auto") && !g_str_equal (device, "cpu")
      && !g_str_equal (device, "cuda"))
    return;
  g_simple_action_set_state (action, state);
  if (g_strcmp0 (vg_service_get_device (self->service), device) == 0)
    return;
  vg_service_set_device (self->service, device);
  if (self->settings != NULL)
    g_settings_set_string (self->settings, "device", device);
  reload_model (self);
}

void
visage_window_set_flip (VisageWindow *self, gboolean flip)
{
  g_return_if_fail (VISAGE_IS_WINDOW (self));

  g_action_group_change_action_state (G_ACTION_GROUP (self), "flip",
                                      g_variant_new_boolean (flip));
}

/* Test-time flip: kept in GSettings, and the loaded model is reloaded to predict so. */
static void
flip_change_state (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  VisageWindow *self = user_data;
  gboolean flip = g_variant_get_boolean (state);

  g_simple_action_set_state (action, state);
  if (vg_service_get_flip (self->service) == flip)
    return;
  vg_service_set_flip (self->service, flip);
  if (self->settings != NULL)
    g_settings_set_boolean (self->settings, "flip", flip);
  reload_model (self);
}

static void
train_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  _visage_window_show_train_dialog (VISAGE_WINDOW (user_data));
}

static void
open_run_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  _visage_window_choose_run (VISAGE_WINDOW (user_data));
}

/* A training run's best checkpoint (its toast's button): browse and evaluate with it. */
static void
use_model_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;

  visage_window_load_model (self, g_variant_get_string (parameter, NULL));
  self->evaluate_after_load = TRUE;
}

/* A training run's best checkpoint ("Use This Model"): browse the images with it. */
static void
browse_model_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  VisageWindow *self = user_data;

  visage_window_load_model (self, g_variant_get_string (parameter, NULL));
  visage_window_set_visible_view (self, "browse");
}

static const GActionEntry win_actions[] = {
  { .name = "open-split", .activate = open_split_action },
  { .name = "open-model", .activate = open_model_action },
  { .name = "evaluate", .activate = evaluate_action },
  { .name = "cancel", .activate = cancel_action },
  { .name = "next-image", .activate = next_image_action },
  { .name = "previous-image", .activate = previous_image_action },
  { .name = "open-image", .activate = open_image_action },
  { .name = "device", .parameter_type = "s", .state = "'auto'",
    .change_state = device_change_state },
  { .name = "flip", .state = "false", .change_state = flip_change_state },
  { .name = "export-image-mask", .activate = export_action },
  { .name = "export-image-overlay", .activate = export_action },
  { .name = "export-split-masks", .activate = export_action },
  { .name = "export-split-overlays", .activate = export_action },
  { .name = "export-submission", .activate = export_action },
  { .name = "save-annotation", .activate = save_annotation_action },
  { .name = "save-annotation-over-truth", .activate = save_over_truth_action },
  { .name = "edit-mask", .activate = edit_mask_action },

  { .name = "train", .activate = train_action },
  { .name = "open-run", .activate = open_run_action },
  { .name = "use-model", .activate = use_model_action, .parameter_type = "s" },
  { .name = "browse-model", .activate = browse_model_action, .parameter_type = "s" },
};

void
_visage_window_actions_init (VisageWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions),
                                   self);
  _visage_window_compare_actions_init (self);
  _visage_window_parsing_init (self);
  add_shortcuts (self);
}
