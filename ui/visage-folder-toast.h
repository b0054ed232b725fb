/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A notice about files written: it names where, and its "Open Folder" button shows the
 * folder in the file manager (the desktop's handler of folders, through GIO). */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* Show the notice on overlay: title, its line (it should give the path); path, a file
 * written (its folder is opened) or a folder. A failure to open the folder says why in a
 * notice on the same overlay. Returns the toast (owned by the overlay). */
AdwToast *visage_folder_toast_show (AdwToastOverlay *overlay, const char *title,
                                    const char *path);

/* The folder "Open Folder" opens, or NULL for a toast not made here. */
const char *visage_folder_toast_get_folder (AdwToast *toast);

G_END_DECLS
