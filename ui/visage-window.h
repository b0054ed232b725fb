/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "vg-service.h"
#include "visage-evaluation-view.h"
#include "visage-gallery.h"
#include "visage-image-view.h"
#include "visage-train-dialog.h"
#include "visage-train-view.h"

G_BEGIN_DECLS

#define VISAGE_TYPE_WINDOW (visage_window_get_type ())
G_DECLARE_FINAL_TYPE (VisageWindow, visage_window, VISAGE, WINDOW, AdwApplicationWindow)

/* settings: the application's preferences, which the window reads and keeps (the device,
 * test-time flip, the last split and model, the overlay's mode and opacity, the brush
 * size); NULL keeps none (the schema is not installed). */
VisageWindow *visage_window_new (GtkApplication *application, GSettings *settings);

/* The page the window shows now: "empty" until a data split is opened, then
 * "workbench". */
const char *visage_window_get_visible_page (VisageWindow *self);

/* Open a split folder (dir/images, dir/masks) or load a model file, on the service's
 * worker; errors are shown in the window. */
void visage_window_open_split (VisageWindow *self, const char *dir);
void visage_window_load_model (VisageWindow *self, const char *path);
/* Load the shipped model the preference win.parsing-model asks for (visage-s for
 * "accuracy", visage-fast for "speed"; the other where that one is not installed): the
 * model used when none was named. A later change of the preference loads the model it
 * asks for, until a model is loaded by name. FALSE when no model ships. */
gboolean visage_window_load_bundled_model (VisageWindow *self);
/* The preference for the shipped model that parses: "accuracy" or "speed" (refused where
 * visage-fast is not installed); kept in GSettings as parsing-model. */
void visage_window_set_parsing_model (VisageWindow *self, const char *choice);
/* Evaluate the open split with the loaded model (win.evaluate). */
void visage_window_evaluate (VisageWindow *self);
/* Compare the loaded model (A) with the model file model_path (B) on the open split, on
 * the service's worker (win.compare; win.compare-with asks for the file; "working" as for
 * an evaluation, win.cancel stops it): the evaluation page shows the comparison once it
 * has finished. Leaving compare mode (win.leave-compare) shows the evaluation again. */
void visage_window_compare (VisageWindow *self, const char *model_path);
void visage_window_leave_compare (VisageWindow *self);
/* The comparison shown, or NULL outside compare mode. */
const VgServiceComparison *visage_window_get_comparison (VisageWindow *self);
/* Show any JPEG or PNG file, predicted, outside the split (win.open-image). */
void visage_window_open_image (VisageWindow *self, const char *path);
/* Export predictions (the win.export-* actions without their file dialogs): what is
 * "image-mask", "image-overlay" (the image shown), "split-masks", "split-overlays" (into
 * the folder destination) or "submission" (the zip file destination). */
void visage_window_export (VisageWindow *self, const char *what, const char *destination);
/* TRUE while an evaluation or an export runs (win.cancel stops it). Notified ("working")
 * when one starts and once it has finished, its result in place (get_evaluation). */
gboolean visage_window_get_working (VisageWindow *self);

/* TRUE while a split opens, a model loads or the shown image is being predicted: what
 * the window shows is not final yet. Notified. */
gboolean visage_window_get_busy (VisageWindow *self);

/* The open split (NULL before one) and the last finished evaluation of it with the loaded
 * model (NULL before one). */
const VgSplit *visage_window_get_split (VisageWindow *self);
const VgEvaluation *visage_window_get_evaluation (VisageWindow *self);

VgService *visage_window_get_service (VisageWindow *self);
VisageGallery *visage_window_get_gallery (VisageWindow *self);
VisageImageView *visage_window_get_image_view (VisageWindow *self);
VisageEvaluationView *visage_window_get_evaluation_view (VisageWindow *self);
/* The compute device for the model: "auto", "cpu" or "cuda" (the win.device action; the
 * loaded model is reloaded on it). */
void visage_window_set_device (VisageWindow *self, const char *device);
/* Test-time flip for the model (vg_service_set_flip): reloads it, remembered in GSettings. */
void visage_window_set_flip (VisageWindow *self, gboolean flip);
/* The Training page, and the Train dialog while it is open (win.train opens it). */
VisageTrainView *visage_window_get_train_view (VisageWindow *self);
VisageTrainDialog *visage_window_get_train_dialog (VisageWindow *self);
/* A run's folder (its log.csv) plotted on the Training page, which shows then; win.open-run
 * chooses one. A notice says why a folder is refused; nothing while a model trains here. */
void visage_window_open_run (VisageWindow *self, const char *folder);
/* The workbench's view: "browse", "evaluation" or "training". */
const char *visage_window_get_visible_view (VisageWindow *self);
void visage_window_set_visible_view (VisageWindow *self, const char *name);

/* Mask corrections. The mask of the sample shown can be edited in the image view; it is
 * saved (win.save-annotation, Ctrl+S) into the annotations folder <split>/annotations as
 * <name>.png, which then overrides masks/<name>.png as the ground truth of the workbench's
 * display and evaluation (and of visage-cli eval/train --annotations). Writing over the
 * original mask takes win.save-annotation-over-truth and a confirmation. */
VisageAnnotation *visage_window_get_annotation (VisageWindow *self);
gboolean visage_window_save_annotation (VisageWindow *self, GError **error);
/* TRUE while the annotation shown has unsaved changes (the title starts with "• "). */
gboolean visage_window_get_modified (VisageWindow *self);
/* The question the window asks now (recover unsaved changes? save before closing?
 * replace the ground truth?), or NULL: tests answer it with adw_message_dialog_response(). */
AdwMessageDialog *visage_window_get_message_dialog (VisageWindow *self);

/* Quiet: the window's notices go to the log (g_message) instead of toasts over the window,
 * as for a screenshot. */
void visage_window_set_quiet (VisageWindow *self, gboolean quiet);
/* Render the window as it was last laid out into a PNG file (for --screenshot and tests):
 * call it after a frame has been drawn since the last change. */
gboolean visage_window_save_screenshot (VisageWindow *self, const char *path, GError **error);

G_END_DECLS
