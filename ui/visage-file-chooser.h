/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A modal native file chooser that hands back a local path, for every "choose a file or
 * folder" in the workbench (GtkFileDialog needs GTK 4.10; Debian 12 has 4.8). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Called once with the chosen path, only when the user accepted a local file. */
typedef void (*VisageChosenFunc) (const char *path, gpointer user_data);

typedef struct {
  const char *title;
  GtkFileChooserAction action;
  const char *accept_label;  /* the accept button, translated, with its mnemonic */
  GFile *folder;             /* NULL: the chooser's own start */
  const char *current_name;  /* SAVE only; NULL for none */
  GtkFileFilter *filters[3]; /* NULL-terminated; the first is selected */
  /* Extra choices (gtk_file_chooser_add_choice): add_choices (may be NULL) adds them when
   * the chooser opens; read_choices (may be NULL) reads them when the user accepts, before
   * the chosen callback. Both get the callback's user_data. */
  void (*add_choices) (GtkFileChooser *chooser, gpointer user_data);
  void (*read_choices) (GtkFileChooser *chooser, gpointer user_data);
} VisageChooserSpec;

/* A reference to the widget that asked and a string (what to do with the path): the
 * user_data of choosers whose answer needs both; free with visage_chooser_request_free. */
typedef struct {
  gpointer owner;
  char *what;
} VisageChooserRequest;

VisageChooserRequest *visage_chooser_request_new (gpointer owner, const char *what);
void visage_chooser_request_free (gpointer request);

/* Shows the chooser and returns at once. destroy (may be NULL) frees user_data once the
 * chooser is closed, whatever the answer. */
void visage_choose_path (GtkWindow *parent, const VisageChooserSpec *spec,
                         VisageChosenFunc chosen, gpointer user_data, GDestroyNotify destroy);

G_END_DECLS
