/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The synthetic test cards (test-card.h) as the workbench sees them: a split of 8 cards
 * opens, every card's ground truth holds exactly the classes drawn for it, the split
 * evaluates, and a confusion cell of a long-tail class narrows the gallery and highlights
 * its pixels. These are the steps tests/ui/screenshots.sh pictures for the README (with
 * VISAGE_TEST_SCREENSHOTS set, the pictures are left there), so the script cannot rot
 * unseen. The model is a tiny random one, or VISAGE_TEST_CARD_MODEL (the script gives the
 * bundled model). Needs no ../shared: the cards are drawn here. */
#include "config.h"

#include <adwaita.h>

#include "test-card.h"
#include "test-fixtures.h"
#include "test-register.h"
#include "vg-classes.h"
#include "visage-confusion-matrix.h"
#include "visage-evaluation-view.h"
#include "visage-gallery.h"
#include "visage-image-view.h"
#include "visage-overlay-area.h"
#include "ui-test-util.h"

#define N_CARDS 8

/* For spin_until: settled, no evaluation under way and its progress bar gone (the
 * revealer's transition over). */
static gboolean
window_idle (gpointer data)
{
  GObject *progress = gtk_widget_get_template_child (GTK_WIDGET (data), VISAGE_TYPE_WINDOW,
                                                     "progress_revealer");

  g_assert_true (GTK_IS_REVEALER (progress));
  return window_settled (data) && !visage_window_get_working (VISAGE_WINDOW (data))
         && !gtk_revealer_get_child_revealed (GTK_REVEALER (progress));
}

/* For spin_until: the window's surface has been made 1280x800 (its default size). */
static gboolean
window_1280x800 (gpointer data)
{
  GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (data));

  return gdk_surface_get_width (surface) == 1280 && gdk_surface_get_height (surface) == 800;
}

/* The window at 1280x800 on the cards, evaluated. */
static VisageWindow *
open_cards_evaluated (VisageApplication *app)
{
  VisageWindow *window = ui_fixture_open_workbench (app, window_settled);

  /* The pictures show the window, not notices over it (as visage --screenshot). */
  visage_window_set_quiet (window, TRUE);
  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 800);
  g_assert_true (ui_spin_until_timeout (window_1280x800, window, 10));
  g_action_group_activate_action (G_ACTION_GROUP (window), "evaluate", NULL);
  g_assert_true (spin_until (window_evaluated, window));
  g_assert_true (spin_until (window_idle, window));
  return window;
}

/* The off-diagonal cell with the most pixels whose truth is a long-tail class (eyeglasses,
 * hat, earring, necklace): the confusion the README's long-tail picture shows. */
static void
long_tail_cell (const VgEvaluation *evaluation, int *truth, int *predicted)
{
  guint64 best = 0;

  *truth = *predicted = -1;
  for (int t = 0; t < VG_NUM_CLASSES; t++)
    for (int p = 0; p < VG_NUM_CLASSES; p++)
      {
        guint64 n = evaluation->metrics.confusion.counts[t][p];

        if (t != p && vg_class_is_long_tail (t) && n > best)
          *truth = t, *predicted = p, best = n;
      }
}

VG_TEST ("/cards/split", test_split)
{
  g_autoptr (VisageApplication) app = new_app ();
  VisageWindow *window = open_cards_evaluated (app);
  const VgSplit *split = visage_window_get_split (window);
  const VgEvaluation *evaluation = visage_window_get_evaluation (window);
  guint32 all = 0;

  g_assert_cmpint (split->n_samples, ==, N_CARDS);
  g_assert_cmpint (evaluation->metrics.n_images, ==, N_CARDS);
  for (int i = 0; i < N_CARDS; i++)
    {
      g_autofree char *name = g_strdup_printf ("card-%d", i + 1);
      guint32 truth = 0;

      g_assert_cmpstr (split->samples[i].name, ==, name);
      g_assert_cmpint (split->samples[i].width, ==, VG_TEST_CARD_SIZE);
      /* What the workbench read back is what was drawn: no part hidden by another. */
      for (int c = 0; c < VG_NUM_CLASSES; c++)
        if (vg_confusion_truth_pixels (&evaluation->images[i].confusion, c) > 0)
          truth |= 1u << c;
      g_assert_cmphex (truth, ==, vg_test_card_classes (i));
      all |= truth;
    }
  /* Together the cards hold every class of the data set. */
  g_assert_cmphex (all, ==, (1u << VG_NUM_CLASSES) - 1);
  /* The browse view with the prediction over the first card (the README's first picture). */
  visage_window_set_visible_view (window, "browse");
  visage_gallery_select_position (visage_window_get_gallery (window), 0);
  visage_image_view_set_mode (visage_window_get_image_view (window), "prediction");
  g_assert_true (spin_until (window_idle, window));
  keep_screenshot (window, "cards-browse.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

VG_TEST ("/cards/long-tail-cell", test_long_tail_cell)
{
  g_autoptr (VisageApplication) app = new_app ();
  VisageWindow *window = open_cards_evaluated (app);
  const VgEvaluation *evaluation = visage_window_get_evaluation (window);
  VisageEvaluationView *view = visage_window_get_evaluation_view (window);
  VisageGallery *gallery = visage_window_get_gallery (window);
  VisageOverlayArea *area = visage_image_view_get_area (visage_window_get_image_view (window));
  g_autoptr (VisageSample) first = NULL;
  int truth, predicted, t, p;

  /* Some long-tail pixels are missed (a tiny model misses most; the bundled one some). */
  long_tail_cell (evaluation, &truth, &predicted);
  g_assert_cmpint (truth, >=, 0);
  g_test_message ("cell: truth %s, predicted %s", vg_class_name (truth),
                  vg_class_name (predicted));

  visage_window_set_visible_view (window, "evaluation");
  visage_confusion_matrix_select (visage_evaluation_view_get_matrix (view), truth, predicted);
  spin_frames (5);
  g_assert_cmphex (shown_set (gallery), ==, cell_set (evaluation, truth, predicted));
  g_assert_nonnull (visage_gallery_get_focus_text (gallery));
  g_assert_cmpuint (g_list_model_get_n_items (visage_evaluation_view_get_cell_samples (view)),
                    ==, __builtin_popcountll (cell_set (evaluation, truth, predicted)));
  keep_screenshot (window, "cards-evaluation.png");

  /* The cell's image with the most such pixels, in Browse, its pixels highlighted. */
  first = g_list_model_get_item (visage_evaluation_view_get_cell_samples (view), 0);
  g_signal_emit_by_name (view, "open-sample", first);
  g_assert_cmpstr (visage_window_get_visible_view (window), ==, "browse");
  g_assert_true (visage_gallery_get_selected_sample (gallery) == first);
  g_assert_true (spin_until (window_idle, window));
  visage_overlay_area_get_highlight (area, &t, &p);
  g_assert_cmpint (t, ==, truth);
  g_assert_cmpint (p, ==, predicted);
  keep_screenshot (window, "cards-confusion.png");
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  g_autoptr (GError) error = NULL;
  const char *model = g_getenv ("VISAGE_TEST_CARD_MODEL");
  UiFixture *fixture = &ui_fixture;
  int status;

  /* The fixture's split is the cards, its model the one named or a tiny one. */
  if ((status = ui_test_init (&argc, &argv, "cards", &fixture->scratch_dir)) >= 0)
    return status;
  fixture->split_dir = g_build_filename (fixture->scratch_dir, "cards", NULL);
  g_assert_true (vg_test_cards_write_split (fixture->split_dir, N_CARDS, &error));
  g_assert_no_error (error);
  fixture->model_path = model != NULL && *model != '\0'
                        ? g_canonicalize_filename (model, NULL)
                        : vg_test_write_tiny_model (fixture->scratch_dir, "tiny.safetensors",
                                                    1, 64);
  vg_test_add_registered ();
  return ui_test_run (&fixture->scratch_dir, &fixture->split_dir, &fixture->model_path, NULL);
}
