/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The one atomic write (vg-atomic-file.h) and the writers built on it: a failed write
 * leaves the previous file intact and no temporary behind. The file size limit
 * (RLIMIT_FSIZE, with SIGXFSZ ignored as the programs do) makes writes fail with EFBIG
 * on any file system, as a full disk fails them with ENOSPC (tests/faults does that). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include "test-common.h"
#include "vg-atomic-file.h"
#include "vg-image.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "test-register.h"

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static void
fresh_dir (void)
{
  vg_test_rm_rf (tmp_dir);
  g_assert_cmpint (g_mkdir_with_parents (tmp_dir, 0755), ==, 0);
}

static void
assert_contents (const char *path, const char *expected)
{
  g_autofree char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, expected);
}

VG_TEST ("/atomic-file/replace-and-abort", test_replace_and_abort)
{
  g_autofree char *path = tmp_path ("a.txt");
  g_autofree char *names = NULL;
  g_autoptr (GError) error = NULL;
  VgAtomicFile *f;

  fresh_dir ();
  g_assert_true (vg_atomic_file_set_contents (path, "first", 5, &error));
  g_assert_no_error (error);
  g_assert_true (vg_atomic_file_set_contents (path, "second", 6, &error));
  g_assert_no_error (error);
  assert_contents (path, "second");

  /* Abandoned half-way: the previous content stays, the temporary goes. */
  f = vg_atomic_file_new (path, &error);
  g_assert_no_error (error);
  g_assert_true (vg_atomic_file_write (f, "thi", 3, &error));
  names = vg_test_dir_listing (tmp_dir);
  g_assert_true (g_str_has_prefix (names, "a.txt a.txt.tmp-"));
  vg_atomic_file_abort (f);
  assert_contents (path, "second");
  g_clear_pointer (&names, g_free);
  names = vg_test_dir_listing (tmp_dir);
  g_assert_cmpstr (names, ==, "a.txt");
}

/* A destination that is a folder is refused at once, not by rename() after the work. */
VG_TEST ("/atomic-file/folder-destination", test_folder_destination)
{
  g_autofree char *path = tmp_path ("sub");
  g_autofree char *names = NULL;
  g_autoptr (GError) error = NULL;

  fresh_dir ();
  g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
  g_assert_null (vg_atomic_file_new (path, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY);
  g_assert_nonnull (strstr (error->message, "sub"));
  g_clear_error (&error);
  vg_test_assert_fails (vg_check_output_file (path, &error), error, G_IO_ERROR,
                        G_IO_ERROR_IS_DIRECTORY, NULL);
  names = vg_test_dir_listing (tmp_dir);
  g_assert_cmpstr (names, ==, "sub");
}

VG_TEST ("/atomic-file/check-output", test_check_output)
{
  g_autofree char *file = tmp_path ("file");
  g_autofree char *missing = tmp_path ("missing");
  g_autofree char *under_file = g_build_filename (file, "x.png", NULL);
  g_autofree char *under_missing = g_build_filename (missing, "x.png", NULL);
  g_autofree char *names = NULL;
  g_autoptr (GError) error = NULL;

  fresh_dir ();
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  g_assert_true (vg_check_output_dir (tmp_dir, &error));
  g_assert_no_error (error);
  vg_test_assert_fails (vg_check_output_dir (file, &error), error, G_IO_ERROR,
                        G_IO_ERROR_NOT_DIRECTORY, NULL);
  vg_test_assert_fails (vg_check_output_dir (missing, &error), error, G_IO_ERROR,
                        G_IO_ERROR_NOT_FOUND, "missing");
  vg_test_assert_fails (vg_check_output_file (under_file, &error), error, G_IO_ERROR,
                        G_IO_ERROR_NOT_DIRECTORY, NULL);
  vg_test_assert_fails (vg_check_output_file (under_missing, &error), error, G_IO_ERROR,
                        G_IO_ERROR_NOT_FOUND, NULL);
  g_assert_true (vg_check_output_file (file, &error));
  g_assert_no_error (error);

  /* A folder that does not take files (only when not root: root writes anyway). */
  if (geteuid () != 0)
    {
      g_assert_cmpint (g_chmod (tmp_dir, 0555), ==, 0);
      vg_test_assert_fails (vg_check_output_dir (tmp_dir, &error), error, G_IO_ERROR,
                            G_IO_ERROR_PERMISSION_DENIED, NULL);
      vg_test_assert_fails (vg_check_output_file (file, &error), error, G_IO_ERROR,
                            G_IO_ERROR_PERMISSION_DENIED, NULL);
      g_assert_cmpint (g_chmod (tmp_dir, 0755), ==, 0);
    }
  names = vg_test_dir_listing (tmp_dir);
  g_assert_cmpstr (names, ==, "file");  /* the probes are gone */
}

/* Each writer, over the file size limit: an error naming the file and EFBIG, the previous
 * file intact, nothing else in the folder. */
VG_TEST ("/atomic-file/file-size-limit", test_file_size_limit)
{
  const int H = 256, W = 256;
  g_autofree uint8_t *mask = g_new (uint8_t, H * W);
  g_autofree uint8_t *rgb = g_new (uint8_t, H * W * 3);
  g_autofree float *weights = g_new (float, 64 * 1024);
  VgTensorView tensor = { "w", VG_DTYPE_F32, 1, { 64 * 1024 }, 64 * 1024, weights,
                          64 * 1024 * sizeof (float) };
  const char *const names[] = { "raw", "model.safetensors", "mask.png", "overlay.png",
                                "grey.png" };
  struct rlimit saved, limit;
  void (*old_handler) (int);
  GRand *rand = g_rand_new_with_seed (5);

  /* Noise does not compress: every output is far over the limit. */
  for (int i = 0; i < H * W; i++)
    mask[i] = (uint8_t) g_rand_int_range (rand, 0, 19);
  for (int i = 0; i < H * W * 3; i++)
    rgb[i] = (uint8_t) g_rand_int_range (rand, 0, 256);
  for (int i = 0; i < 64 * 1024; i++)
    weights[i] = (float) g_rand_double (rand);
  g_rand_free (rand);

  fresh_dir ();
  for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
    {
      g_autofree char *path = tmp_path (names[k]);
      g_assert_true (g_file_set_contents (path, "previous", -1, NULL));
    }

  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limit = saved;
  limit.rlim_cur = 16 * 1024;
  old_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
    {
      g_autofree char *path = tmp_path (names[k]);
      g_autoptr (GError) error = NULL;
      gboolean ok = FALSE;

      switch (k)
        {
        case 0:
          ok = vg_atomic_file_set_contents (path, rgb, (size_t) H * W * 3, &error);
          break;
        case 1:
          ok = vg_safetensors_write (path, &tensor, 1, NULL, &error);
          break;
        case 2:
          ok = vg_mask_save (path, mask, H, W, &error);
          break;
        case 3:
          ok = vg_image_save_png (path, rgb, H, W, &error);
          break;
        case 4:
          ok = vg_mask_save_grey (path, mask, H, W, &error);
          break;
        }
      g_assert_false (ok);
      g_assert_nonnull (error);
      g_test_message ("%s: %s", names[k], error->message);
      g_assert_nonnull (strstr (error->message, names[k]));
      g_assert_nonnull (strstr (error->message, g_strerror (EFBIG)));
    }
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, old_handler);

  for (gsize k = 0; k < G_N_ELEMENTS (names); k++)
    {
      g_autofree char *path = tmp_path (names[k]);
      assert_contents (path, "previous");
    }
  {
    g_autofree char *left = vg_test_dir_listing (tmp_dir);
    g_assert_cmpstr (left, ==, "grey.png mask.png model.safetensors overlay.png raw");
  }
}

int
main (int argc, char **argv)
{
  g_autofree char *base = g_dir_make_tmp ("visage-test-atomic-XXXXXX", NULL);
  int rc;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_build_filename (base, "out", NULL);
  vg_test_add_registered ();
  rc = g_test_run ();
  vg_test_rm_rf (base);
  g_free (tmp_dir);
  return rc;
}
