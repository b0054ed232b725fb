/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Every window size from 800x600 to 4K works, on a fixture split (symbolic links to two
 * real val images) with a tiny random-weight model: at each size, on each page, in edit
 * mode too (with the widest paint class, "16 Necklace"), every action a widget offers is
 * reachable: the widget is drawn inside the window and inside every container above it
 * (vertical scrolling allowed, horizontal scrolling and clipping not), or the action is in
 * a menu of a reachable menu button. The three pages are always reachable (the view
 * switcher in the header bar, else in the bar at the bottom); the window is never smaller
 * than 800x600; and the gallery keeps its width whatever its sort order's label. */
#include "config.h"

#include <adwaita.h>

#include "test-fixtures.h"
#include "vg-classes.h"
#include "vg-mask-edit.h"
#include "visage-annotation.h"
#include "visage-application.h"
#include "visage-gallery.h"
#include "visage-image-view.h"
#include "visage-window.h"
#include "ui-test-util.h"
#include "test-register.h"

static const char *const fixture_names[] = { "0", "1", NULL };

static const struct {
  int width;
  int height;
} sizes[] = { { 800, 600 }, { 1024, 700 }, { 1100, 760 }, { 1920, 1080 }, { 3840, 2160 } };

/* Within one pixel: allocations are whole pixels, bounds may carry rounding. */
#define SLACK 1.0

static gboolean
contains_x (const graphene_rect_t *outer, const graphene_rect_t *inner)
{
  return inner->origin.x >= outer->origin.x - SLACK
         && inner->origin.x + inner->size.width <= outer->origin.x + outer->size.width + SLACK;
}

static gboolean
contains_y (const graphene_rect_t *outer, const graphene_rect_t *inner)
{
  return inner->origin.y >= outer->origin.y - SLACK
         && inner->origin.y + inner->size.height <= outer->origin.y + outer->size.height + SLACK;
}

/* Drawn, and not cut off by the window or any container above it; a container that
 * scrolls vertically makes what is below or above its view reachable, one that scrolls
 * (or clips) horizontally does not. */
static gboolean
reachable (GtkWidget *widget, GtkWidget *window)
{
  graphene_rect_t rect, outer;

  if (!gtk_widget_get_mapped (widget) || gtk_widget_get_width (widget) <= 0
      || gtk_widget_get_height (widget) <= 0
      || !gtk_widget_compute_bounds (widget, window, &rect))
    return FALSE;
  for (GtkWidget *above = gtk_widget_get_parent (widget); above != NULL;
       above = gtk_widget_get_parent (above))
    {
      GtkWidget *scroller = GTK_IS_SCROLLED_WINDOW (above) ? above
                                                            : gtk_widget_get_parent (above);

      if (!gtk_widget_compute_bounds (above, window, &outer) || !contains_x (&outer, &rect))
        return FALSE;
      /* The scrolled window and its viewport (or other scrollable child). */
      if (GTK_IS_SCROLLED_WINDOW (scroller))
        {
          GtkPolicyType vertical;

          gtk_scrolled_window_get_policy (GTK_SCROLLED_WINDOW (scroller), NULL, &vertical);
          if (vertical == GTK_POLICY_AUTOMATIC || vertical == GTK_POLICY_ALWAYS)
            {
              rect.origin.y = outer.origin.y;
              rect.size.height = MIN (rect.size.height, outer.size.height);
            }
        }
      if (!contains_y (&outer, &rect))
        return FALSE;
      if (above == window)
        break;
    }
  return TRUE;
}

/* The widgets offering an action that the page shown means to show: not hidden on
 * purpose, not in a closed popover or revealer, not on another page of a stack. */
static void
collect_actionables (GtkWidget *widget, GPtrArray *found)
{
  GtkWidget *only = NULL;

  if (!gtk_widget_get_visible (widget) || GTK_IS_POPOVER (widget)
      || (GTK_IS_REVEALER (widget) && !gtk_revealer_get_reveal_child (GTK_REVEALER (widget))))
    return;
  if (GTK_IS_ACTIONABLE (widget)
      && gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)) != NULL)
    g_ptr_array_add (found, widget);
  if (GTK_IS_STACK (widget))
    only = gtk_stack_get_visible_child (GTK_STACK (widget));
  else if (ADW_IS_VIEW_STACK (widget))
    only = adw_view_stack_get_visible_child (ADW_VIEW_STACK (widget));
  if (only != NULL)
    {
      collect_actionables (only, found);
      return;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    collect_actionables (child, found);
}

static gboolean
menu_has_action (GMenuModel *menu, const char *action)
{
  for (int i = 0; i < g_menu_model_get_n_items (menu); i++)
    {
      g_autofree char *name = NULL;
      g_autoptr (GMenuLinkIter) links = g_menu_model_iterate_item_links (menu, i);
      GMenuModel *link;

      if (g_menu_model_get_item_attribute (menu, i, G_MENU_ATTRIBUTE_ACTION, "s", &name)
          && g_strcmp0 (name, action) == 0)
        return TRUE;
      while (g_menu_link_iter_get_next (links, NULL, &link))
        {
          gboolean found = menu_has_action (link, action);

          g_object_unref (link);
          if (found)
            return TRUE;
        }
    }
  return FALSE;
}

/* The action is in the menu of a menu button that is itself reachable. */
static gboolean
in_overflow_menu (GtkWidget *widget, GtkWidget *window, const char *action)
{
  if (GTK_IS_MENU_BUTTON (widget) && reachable (widget, window)
      && gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget)) != NULL
      && menu_has_action (gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (widget)), action))
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (!GTK_IS_POPOVER (child) && in_overflow_menu (child, window, action))
      return TRUE;
  return FALSE;
}

static gboolean
same_target (GVariant *a, GVariant *b)
{
  return (a == NULL && b == NULL) || (a != NULL && b != NULL && g_variant_equal (a, b));
}

/* Every action offered on the page shown is reachable; returns how many widgets offer
 * one (so that a page that offers nothing is noticed). */
static guint
assert_actions_reachable (VisageWindow *window, const char *what)
{
  GtkWidget *root = GTK_WIDGET (window);
  g_autoptr (GPtrArray) found = g_ptr_array_new ();

  collect_actionables (root, found);
  for (guint i = 0; i < found->len; i++)
    {
      GtkWidget *widget = g_ptr_array_index (found, i);
      const char *action = gtk_actionable_get_action_name (GTK_ACTIONABLE (widget));
      gboolean ok = reachable (widget, root);

      /* Another widget offering the same action (a linked copy, a menu) will do. */
      for (guint j = 0; !ok && j < found->len; j++)
        {
          GtkWidget *other = g_ptr_array_index (found, j);

          ok = g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (other)), action) == 0
               && same_target (gtk_actionable_get_action_target_value (
                                             GTK_ACTIONABLE (other)),
                                           gtk_actionable_get_action_target_value (
                                             GTK_ACTIONABLE (widget)))
               && reachable (other, root);
        }
      if (!ok)
        ok = in_overflow_menu (root, root, action);
      if (!ok)
        {
          graphene_rect_t rect;

          if (!gtk_widget_compute_bounds (widget, root, &rect))
            graphene_rect_init (&rect, -1, -1, 0, 0);
          g_test_message ("%s: %s (%s) is not reachable: at %.0f,%.0f %.0fx%.0f, mapped %d",
                          what, action, G_OBJECT_TYPE_NAME (widget), rect.origin.x,
                          rect.origin.y, rect.size.width, rect.size.height,
                          gtk_widget_get_mapped (widget));
          g_test_fail ();
          for (GtkWidget *a = widget; a != NULL; a = gtk_widget_get_parent (a))
            if (gtk_widget_compute_bounds (a, root, &rect))
              g_test_message ("  %s %.0f,%.0f %.0fx%.0f", G_OBJECT_TYPE_NAME (a), rect.origin.x,
                              rect.origin.y, rect.size.width, rect.size.height);
        }
    }
  return found->len;
}

/* Buttons of a view switcher (the header bar's or the bottom bar's) that can be clicked. */
static guint
count_switcher_buttons (GtkWidget *widget, GtkWidget *window, gboolean inside)
{
  guint n = 0;

  inside = inside || ADW_IS_VIEW_SWITCHER (widget);
  if (inside && GTK_IS_TOGGLE_BUTTON (widget) && reachable (widget, window))
    return 1;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    n += count_switcher_buttons (child, window, inside);
  return n;
}

/* For spin_until: every revealer that is to show its child has finished showing it. */
static gboolean
revealers_settled (gpointer data)
{
  GtkWidget *widget = data;

  if (GTK_IS_REVEALER (widget) && gtk_widget_get_mapped (widget)
      && gtk_revealer_get_reveal_child (GTK_REVEALER (widget))
      && !gtk_revealer_get_child_revealed (GTK_REVEALER (widget)))
    return FALSE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (!revealers_settled (child))
      return FALSE;
  return TRUE;
}

/* Whether the screen (the first monitor) holds a window of this size: GTK makes a window
 * no larger than its monitor. */
static gboolean
screen_holds (VisageWindow *window, int width, int height)
{
  GdkDisplay *display = gtk_widget_get_display (GTK_WIDGET (window));
  g_autoptr (GdkMonitor) monitor = g_list_model_get_item (gdk_display_get_monitors (display), 0);
  GdkRectangle geometry;

  gdk_monitor_get_geometry (monitor, &geometry);
  if (geometry.width >= width && geometry.height >= height)
    return TRUE;
  g_test_message ("%dx%d not checked: the screen is %dx%d (run under xvfb-run -s "
                  "'-screen 0 3840x2160x24' to check it)", width, height, geometry.width,
                  geometry.height);
  return FALSE;
}

/* At one size: the three pages, Browse in edit mode too. */
static void
check_size (VisageWindow *window, int width, int height)
{
  VisageImageView *view = visage_window_get_image_view (window);
  static const char *const pages[] = { "browse", "evaluation", "training" };
  g_autofree char *what = NULL;

  if (!screen_holds (window, width, height))
    return;
  ui_resize_window (window, width, height);
  g_assert_cmpint (surface_width (window), ==, width);
  g_assert_cmpint (surface_height (window), ==, height);
  for (guint p = 0; p < G_N_ELEMENTS (pages); p++)
    {
      visage_window_set_visible_view (window, pages[p]);
      spin_frames (3);
      g_assert_true (spin_until (revealers_settled, window));
      g_free (what);
      what = g_strdup_printf ("%dx%d %s", width, height, pages[p]);
      g_assert_cmpuint (assert_actions_reachable (window, what), >, 3);
      /* The switcher with its three pages, wherever it is at this width. */
      g_assert_cmpuint (count_switcher_buttons (GTK_WIDGET (window), GTK_WIDGET (window),
                                                FALSE), ==, 3);
    }
  visage_window_set_visible_view (window, "browse");
  visage_image_view_set_editing (view, TRUE);
  visage_image_view_set_paint_class (view, VG_CLASS_NECK_L);
  /* With an unsaved change: the header bar's mark takes room too. */
  g_assert_cmpint (vg_mask_edit_brush (window_edit (window), 50, 50, 60, 50, 4, VG_CLASS_NECK_L),
                   >, 0);
  visage_annotation_changed (visage_window_get_annotation (window));
  g_assert_true (visage_window_get_modified (window));
  spin_frames (3);
  g_assert_true (spin_until (revealers_settled, window));
  g_assert_cmpint (surface_width (window), ==, width);
  g_free (what);
  what = g_strdup_printf ("%dx%d editing", width, height);
  g_assert_cmpuint (assert_actions_reachable (window, what), >, 10);
  if (width == 1100)
    keep_screenshot (window, "layout-1100-editing.png");
  else if (width == 800)
    keep_screenshot (window, "layout-800-editing.png");
  gtk_widget_activate_action (GTK_WIDGET (view), "image.undo", NULL);
  g_assert_false (visage_window_get_modified (window));
  visage_image_view_set_editing (view, FALSE);
  spin_frames (3);
}

VG_TEST ("/layout/sizes", test_sizes)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  /* The Evaluation page with its results, not its empty state. */
  visage_window_evaluate (window);
  g_assert_true (spin_until (window_evaluated, window));
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    check_size (window, sizes[i].width, sizes[i].height);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Never smaller than 800x600: asked for less, the window is that big. */
VG_TEST ("/layout/minimum-size", test_minimum_size)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  gtk_window_set_default_size (GTK_WINDOW (window), 640, 480);
  g_assert_true (ui_spin_until_timeout (window_sized, window, 10));
  g_assert_cmpint (surface_width (window), ==, 800);
  g_assert_cmpint (surface_height (window), ==, 600);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The gallery keeps its width when its sort order has a long label. */
VG_TEST ("/layout/gallery-width", test_gallery_width)
{
  g_autoptr (VisageApplication) app = NULL;
  VisageWindow *window;
  GtkWidget *gallery;
  int before;

  if ((window = ui_test_start (&app, window_annotation_ready)) == NULL)
    return;
  ui_resize_window (window, 1100, 760);
  gallery = GTK_WIDGET (visage_window_get_gallery (window));
  before = gtk_widget_get_width (gallery);
  g_assert_cmpint (before, >, 0);
  /* "Most Pixels of the Chosen Confusion", as a click on a confusion cell chooses. */
  visage_gallery_sort_by_confusion (VISAGE_GALLERY (gallery), VG_CLASS_L_LIP, VG_CLASS_HAIR);
  spin_frames (5);
  g_assert_cmpint (gtk_widget_get_width (gallery), ==, before);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char *argv[])
{
  return ui_test_main (argc, argv, "layout", fixture_names, "split", FALSE);
}
