/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one atomic write of the engine's output files (models, checkpoints, masks,
 * overlays, submission zips).
 *
 * The bytes go to a temporary beside the destination, NAME.tmp-XXXXXX, which is synced
 * and renamed over NAME only once complete (then the folder is synced). Every failure
 * removes the temporary, so NAME holds either its previous content or the new one, never
 * a part, and no partial file is left behind: a full disk (ENOSPC), the file size limit
 * (EFBIG, when SIGXFSZ is ignored), a read-only folder, a destination that is a folder.
 * Only a process killed mid-write can leave a temporary; the trainer removes those of its
 * run folder when it resumes.
 *
 * Errors are G_IO_ERROR with the errno's code, and name the destination:
 * "cannot write DIR/NAME: No space left on device". */
#pragma once

#include <stddef.h>

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _VgAtomicFile VgAtomicFile;

/* Create the temporary for path (0666 less the umask, like a new file). Fails when path is
 * a folder, or its folder does not exist or is not writable. */
VgAtomicFile *vg_atomic_file_new (const char *path, GError **error);

/* The temporary's descriptor, for writers that write themselves (vg_safetensors_write_fd);
 * report their failures with vg_atomic_file_set_error. */
int vg_atomic_file_get_fd (VgAtomicFile *f);
const char *vg_atomic_file_get_path (VgAtomicFile *f);

/* Append n bytes. */
gboolean vg_atomic_file_write (VgAtomicFile *f, const void *data, size_t n, GError **error);

/* Sync, close and rename the temporary over the destination, then sync the folder. Frees
 * f, and on failure removes the temporary. */
gboolean vg_atomic_file_commit (VgAtomicFile *f, GError **error);

/* Close and remove the temporary, and free f (NULL: nothing). */
void vg_atomic_file_abort (VgAtomicFile *f);

/* The whole file at once. */
gboolean vg_atomic_file_set_contents (const char *path, const void *data, size_t n,
                                      GError **error);

/* Set the error for errno `code` on destination path, as the functions above do. */
void vg_atomic_file_set_error (GError **error, int code, const char *path, const char *doing);

/* Whether files can be created in dir (a folder that exists): creates and removes a
 * temporary, so that a read-only or missing output folder is found before any work. */
gboolean vg_check_output_dir (const char *dir, GError **error);

/* Whether vg_atomic_file_new (path) can succeed: path is not a folder and its folder
 * takes new files. For a check before any work. */
gboolean vg_check_output_file (const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgAtomicFile, vg_atomic_file_abort)

G_END_DECLS
