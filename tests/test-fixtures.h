/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fixtures for the service and workbench tests: a tiny random-weight model file and a
 * split folder made of symbolic links to a few real images of ../shared (never copies). */
#pragma once

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "test-common.h"
#include "vg-model.h"
#include "vg-predict.h"

/* A model small enough to predict a 512x512 image in a few tens of milliseconds: its
 * predictions are meaningless but deterministic for the seed, which is all the tests of
 * the plumbing need. resolution: the model's input size (a multiple of 32; the larger, the
 * slower). Written to dir/name; returns the path. */
static inline char *
vg_test_write_tiny_model (const char *dir, const char *name, guint64 seed, int resolution)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  g_auto (GStrv) metadata = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  VgConfig cfg;
  VgPreprocess pre = {
    .mean = { 0.5, 0.45, 0.4 },
    .std = { 0.25, 0.25, 0.25 },
    .resolution = resolution,
  };

  g_assert_true (vg_config_from_name (&cfg, "seed", &error));
  g_assert_true (vg_config_parse (&cfg, "widths=8,16,24,32 depths=1,1,1,1 heads=1,1,1,1 "
                                  "ratios=8,4,2,1 mlp=2 dim=16 head=bilinear", &error));
  g_assert_no_error (error);
  model = vg_model_new (&cfg, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  vg_model_init (model, seed);
  metadata = vg_preprocess_to_metadata (&pre);
  g_assert_true (vg_model_save (model, path, (const char *const *) metadata, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

/* dir/images/<name>.jpg and dir/masks/<name>.png linking to celebamask/val's files, for
 * the given sample names. Returns FALSE (test skipped) when ../shared is absent. */
static inline gboolean
vg_test_make_split (const char *dir, const char *const *names)
{
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autofree char *masks = g_build_filename (dir, "masks", NULL);

  g_assert_cmpint (g_mkdir_with_parents (images, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (masks, 0755), ==, 0);
  for (int i = 0; names[i] != NULL; i++)
    {
      g_autofree char *image_rel = g_strdup_printf ("celebamask/val/images/%s.jpg", names[i]);
      g_autofree char *mask_rel = g_strdup_printf ("celebamask/val/masks/%s.png", names[i]);
      g_autofree char *image_src = vg_test_shared_path (image_rel);
      g_autofree char *mask_src = vg_test_shared_path (mask_rel);
      g_autofree char *image_file = g_strdup_printf ("%s.jpg", names[i]);
      g_autofree char *mask_file = g_strdup_printf ("%s.png", names[i]);
      g_autofree char *image_dst = g_build_filename (images, image_file, NULL);
      g_autofree char *mask_dst = g_build_filename (masks, mask_file, NULL);

      if (image_src == NULL || mask_src == NULL)
        return FALSE;
      g_assert_cmpint (symlink (image_src, image_dst), ==, 0);
      g_assert_cmpint (symlink (mask_src, mask_dst), ==, 0);
    }
  return TRUE;
}

/* Remove a folder tree made by the tests (symbolic links are removed, never followed). */
static inline void
vg_test_rm_rf (const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          vg_test_rm_rf (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}
