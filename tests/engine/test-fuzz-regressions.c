/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Inputs that tests/fuzz found wrong, as ordinary tests (each fails without its fix).
 *
 * /fuzz/checkpoint-values: a training checkpoint (last.safetensors) whose configuration,
 * loss, optimizer, selection or schedule optimizer is not one the engine knows was refused
 * with the parser's own message ("unknown loss “wetieghd-ce” (choices: ...)"), which names
 * neither the file nor the key: a user resuming a damaged run could not tell what was
 * wrong where. The checkpoint is written by a one-epoch run of a tiny model on two
 * synthetic 32 x 32 images, then rewritten with one metadata value changed. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "test-common.h"
#include "test-safetensors-util.h"
#include "vg-image.h"
#include "vg-safetensors.h"
#include "vg-train.h"
#include "test-register.h"

#define TINY_SPEC \
  "widths=4,4,8,8 depths=1,1,1,1 heads=1,1,2,2 ratios=2,1,1,1 mlp=1 dim=4 head=bilinear"

/* root/images/{0,1}.png and root/masks/{0,1}.png, 32 x 32, made up here. */
static void
make_split (const char *root)
{
  g_autofree char *images = g_build_filename (root, "images", NULL);
  g_autofree char *masks = g_build_filename (root, "masks", NULL);
  uint8_t rgb[32 * 32 * 3], mask[32 * 32];
  GError *error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (images, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (masks, 0755), ==, 0);
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("%d.png", i);
      g_autofree char *ip = g_build_filename (images, name, NULL);
      g_autofree char *mp = g_build_filename (masks, name, NULL);

      for (int k = 0; k < 32 * 32; k++)
        {
          rgb[3 * k] = (uint8_t) (k * 7 + i);
          rgb[3 * k + 1] = (uint8_t) (k * 3);
          rgb[3 * k + 2] = (uint8_t) (255 - k);
          mask[k] = (uint8_t) ((k / 32 + i) % 19);
        }
      g_assert_true (vg_image_save_png (ip, rgb, 32, 32, &error));
      g_assert_true (vg_mask_save (mp, mask, 32, 32, &error));
      g_assert_no_error (error);
    }
}

/* The error of error names the checkpoint and the key. */
static void
assert_names (const GError *error, const char *key)
{
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "last.safetensors"));
  g_assert_nonnull (strstr (error->message, key));
}

VG_TEST ("/fuzz/checkpoint-values", test_checkpoint_values)
{
  static const struct {
    const char *key;
    const char *value;
  } bad[] = {
    { "visage.train.config", "widths=8" },
    { "visage.train.loss", "wetieghd-ce" },
    { "visage.train.optimizer", "adamm" },
    { "visage.train.select", "nothing" },
  };
  g_autofree char *root = g_dir_make_tmp ("visage-fuzz-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (root, "run", NULL);
  g_autofree char *last = g_build_filename (out, "last.safetensors", NULL);
  g_autofree char *bytes = NULL;
  gsize len;
  VgTrainOptions o, loaded;
  GError *error = NULL;

  make_split (root);
  vg_train_options_init (&o);
  g_assert_true (vg_config_parse (&o.config, TINY_SPEC, &error));
  o.train_dir = g_strdup (root);
  o.val_dir = g_strdup (root);
  o.out_dir = g_strdup (out);
  o.resolution = 32;
  o.batch = 1;
  o.epochs = 1;
  o.workers = 1;
  o.threads = 1;
  o.augment = FALSE;
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (last, &bytes, &len, NULL));

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_true (g_file_set_contents (last, bytes, (gssize) len, NULL));
      vg_test_rewrite_safetensors (last, last, NULL, bad[i].key, bad[i].value);
      vg_train_options_init (&loaded);
      g_assert_false (vg_train_options_load (&loaded, out, &error));
      assert_names (error, bad[i].key);
      g_clear_error (&error);
      vg_train_options_clear (&loaded);
    }

  /* The schedule's optimizer is read when the run resumes. */
  g_assert_true (g_file_set_contents (last, bytes, (gssize) len, NULL));
  vg_test_rewrite_safetensors (last, last, NULL, "visage.train.state.optimizer", "sgdd");
  vg_train_options_init (&loaded);
  g_assert_true (vg_train_options_load (&loaded, out, &error));
  g_assert_no_error (error);
  loaded.epochs = 2;
  g_assert_false (vg_train_run (&loaded, NULL, NULL, NULL, NULL, NULL, &error));
  assert_names (error, "visage.train.state.optimizer");
  g_clear_error (&error);
  vg_train_options_clear (&loaded);

  vg_train_options_clear (&o);
  vg_test_rm_rf (root);
}

VG_TEST_MAIN ()
