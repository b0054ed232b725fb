/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one way the engine opens its input files (images, masks, annotations, models,
 * checkpoints, cached statistics): regular files only.
 *
 * A plain open() of a named pipe (FIFO) blocks until some process opens it for writing,
 * and a read from a pipe, a terminal or a character device may never end: a FIFO left
 * among the masks would hang an evaluation forever. So the file is opened with O_NONBLOCK
 * (which makes open() of a FIFO return at once), fstat() must call it a regular file, and
 * only then is O_NONBLOCK cleared for ordinary reads. Symbolic links are followed.
 *
 * Errors are G_IO_ERROR and start with the file's path: "PATH: cannot open: No such file
 * or directory" (a broken link included), "PATH: not a regular file (a named pipe)" with
 * G_IO_ERROR_NOT_REGULAR_FILE (G_IO_ERROR_IS_DIRECTORY for a folder). */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* A read-only, close-on-exec descriptor of the regular file at path, or -1 with error. */
int vg_input_file_open (const char *path, GError **error);

/* The same as a stdio stream ("rb"), or NULL with error. */
FILE *vg_input_file_fopen (const char *path, GError **error);

/* The whole file, NUL-terminated (the NUL not counted in *length). The buffer comes from
 * g_try_malloc: a file too large for the memory left is an error, not an abort. Free it
 * with g_free. */
gboolean vg_input_file_get_contents (const char *path, char **contents, size_t *length,
                                     GError **error);

G_END_DECLS
