/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Prediction and evaluation (engine/vg-predict.c): model files with their preprocessing,
 * the resize -> forward -> resize back -> argmax path against independent computations,
 * evaluation against a per-image loop, and the output encoders. No training: models are
 * freshly initialised (their predictions are arbitrary but deterministic). */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "app/cli-model.h"
#include "engine/data/data-test-util.h"
#include "test-common.h"
#include "test-safetensors-util.h"
#include "vg-augment.h"
#include "vg-classes.h"
#include "vg-image.h"
#include "vg-nn.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "vg-split.h"
#include "test-register.h"

static const VgPreprocess test_pre = { { 0.52, 0.43, 0.38 }, { 0.29, 0.26, 0.25 }, 64 };

static void
save_model (VgModel *model, const VgPreprocess *pre, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) meta = vg_preprocess_to_metadata (pre);

  g_assert_true (vg_model_save (model, path, (const char *const *) meta, &error));
  g_assert_no_error (error);
}

/* The first n samples of the real val split (a view: the samples stay owned by *owner). */
static gboolean
val_split (VgSplit **owner, VgSplit *view, int n)
{
  g_autofree char *dir = vg_test_shared_path ("celebamask/val");
  g_autoptr (GError) error = NULL;

  if (dir == NULL)
    return FALSE;
  *owner = vg_split_open (dir, VG_SPLIT_REQUIRE_MASKS, 2, NULL, &error);
  g_assert_no_error (error);
  *view = **owner;
  view->n_samples = n;
  return TRUE;
}

/* ---- metadata and model files ---------------------------------------------------------- */

VG_TEST ("/predict/metadata-roundtrip", test_metadata_roundtrip)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (VgModel) model = small_model (1);
  g_autoptr (VgModel) opened = NULL;
  g_autoptr (GError) error = NULL;
  VgPreprocess pre = { { 0.1 / 3, 0.4, 1e-7 }, { 0.3, 2.0 / 7, 5.5 }, 96 }, back;

  save_model (model, &pre, path);
  g_assert_true (vg_preprocess_from_file (&back, path, &error));
  g_assert_no_error (error);
  /* Exact: the text is the shortest round-trip form of each double. */
  for (int c = 0; c < 3; c++)
    {
      g_assert_cmpfloat (back.mean[c], ==, pre.mean[c]);
      g_assert_cmpfloat (back.std[c], ==, pre.std[c]);
    }
  g_assert_cmpint (back.resolution, ==, 96);

  /* vg_model_open rebuilds the custom configuration from the spec and loads the weights. */
  opened = vg_model_open (path, vg_backend_cpu (), &back, &error);
  g_assert_no_error (error);
  g_assert_nonnull (opened);
  g_assert_cmpstr (vg_model_config (opened)->name, ==, "custom");
  g_assert_cmpint (memcmp (vg_model_config (opened)->widths, vg_model_config (model)->widths,
                           sizeof (int) * VG_STAGES), ==, 0);
  g_assert_cmpuint (vg_model_num_params (opened), ==, vg_model_num_params (model));
  g_assert_cmpint (memcmp (vg_model_params (opened), vg_model_params (model),
                           vg_model_num_params (model) * sizeof (float)), ==, 0);
  g_assert_cmpint (back.resolution, ==, 96);
  tmp_dir_remove (dir);
}

/* Write a model file with hand-made metadata (tensors of `model`). */
static void
save_with_metadata (VgModel *model, const char *path, const char *const *meta)
{
  g_autofree char *tmp = g_strconcat (path, ".full", NULL);

  save_model (model, &test_pre, tmp);
  vg_test_write_with_metadata (tmp, path, meta);
  g_unlink (tmp);
}

VG_TEST ("/predict/bad-model-files", test_bad_model_files)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (VgModel) model = small_model (1);
  g_autofree char *spec = vg_config_to_string (vg_model_config (model));
  const char *no_config[] = { "visage.mean", "0.5,0.5,0.5", "visage.std", "0.2,0.2,0.2",
                              "visage.resolution", "64", NULL };
  const char *zero_std[] = { "visage.config", spec, "visage.mean", "0.5,0.5,0.5",
                             "visage.std", "0.2,0,0.2", "visage.resolution", "64", NULL };
  const char *odd_res[] = { "visage.config", spec, "visage.mean", "0.5,0.5,0.5",
                            "visage.std", "0.2,0.2,0.2", "visage.resolution", "100", NULL };
  const char *no_pre[] = { "visage.config", spec, NULL };
  const char *other[] = { "visage.config", "", "visage.config_name", "visage-s",
                          "visage.mean", "0.5,0.5,0.5", "visage.std", "0.2,0.2,0.2",
                          "visage.resolution", "64", NULL };
  const char *const *cases[] = { no_config, zero_std, odd_res, no_pre, other };
  const char *expect[] = { "no visage.config", "whitening", "visage.resolution",
                           "no preprocessing", "m.safetensors" };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (VgModel) opened = NULL;
      VgPreprocess pre;

      save_with_metadata (model, path, cases[i]);
      opened = vg_model_open (path, vg_backend_cpu (), &pre, &error);
      g_assert_null (opened);
      g_assert_nonnull (error);
      /* Every message names the file, and says what is wrong. */
      g_assert_nonnull (strstr (error->message, path));
      g_assert_nonnull (strstr (error->message, expect[i]));
    }

  /* A truncated file. */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *data = NULL;
    gsize len;

    save_model (model, &test_pre, path);
    g_assert_true (g_file_get_contents (path, &data, &len, NULL));
    write_bytes (path, data, len / 2);
    g_assert_null (vg_model_open (path, vg_backend_cpu (), NULL, &error));
    g_assert_nonnull (error);
    g_assert_nonnull (strstr (error->message, path));
  }
  tmp_dir_remove (dir);
}

/* A copy of model's tensors at path, under its own metadata (test_pre) but with the
 * configuration spec replaced, and with extra (may be NULL) appended. */
static void
save_with_spec (VgModel *model, const char *path, const char *spec, const VgTensorView *extra)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_strconcat (path, ".full", NULL);
  g_autoptr (VgSafetensors) st = NULL;
  g_autofree VgTensorView *views = NULL;
  g_autofree const char **pairs = NULL;
  g_autoptr (GPtrArray) meta = g_ptr_array_new ();
  int n;

  save_model (model, &test_pre, tmp);
  st = vg_safetensors_open (tmp, &error);
  g_assert_no_error (error);
  n = vg_safetensors_n_tensors (st);
  views = g_new (VgTensorView, n + 1);
  for (int i = 0; i < n; i++)
    views[i] = *vg_safetensors_get (st, i);
  if (extra != NULL)
    views[n++] = *extra;
  pairs = vg_safetensors_metadata_pairs (st);
  for (int i = 0; pairs[i] != NULL; i += 2)
    {
      g_ptr_array_add (meta, (char *) pairs[i]);
      g_ptr_array_add (meta, (char *) (strcmp (pairs[i], "visage.config") == 0 ? spec
                                                                                : pairs[i + 1]));
    }
  g_ptr_array_add (meta, NULL);
  g_assert_true (vg_safetensors_write (path, views, n, (const char *const *) meta->pdata,
                                       &error));
  g_assert_no_error (error);
  g_unlink (tmp);
}

static void
assert_open_fails (const char *path, int code, const char *says, const char *names)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) opened = vg_model_open (path, vg_backend_cpu (), NULL, &error);

  g_assert_null (opened);
  g_assert_error (error, VG_MODEL_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, says));
  g_assert_nonnull (strstr (error->message, names));
}

/* A model file's tensors are checked against its metadata before anything is allocated
 * for it, every tensor must be used, and every weight must be finite. */
VG_TEST ("/predict/model-tensors-checked", test_model_tensors_checked)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *path = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (VgModel) model = small_model (3);
  g_autoptr (GError) error = NULL;

  /* Metadata of a huge model over the small model's tensors: the shape error comes from
   * the file alone, at once (it used to allocate and initialise the huge model first:
   * 33 s and 11 GB for the bundled model with one width changed to 4096). */
  {
    VgConfig huge;
    g_autoptr (VgSafetensors) st = NULL;

    save_with_spec (model, path, "widths=16,4096,64,128 depths=1,1,1,1 heads=1,2,4,8 "
                    "ratios=8,4,2,1 mlp=2 dim=64 head=bilinear", NULL);
    assert_open_fails (path, VG_MODEL_ERROR_FAILED, "has shape", "encoder.stages.1.");
    g_assert_true (vg_config_from_name (&huge, "seed", NULL));
    g_assert_true (vg_config_parse (&huge, "widths=4096,4096,4096,4096 depths=64,64,64,64 "
                                    "mlp=8 dim=4096", &error));
    g_assert_no_error (error);
    g_assert_cmpuint (vg_config_count_params (&huge), >, (size_t) 1 << 33);
    st = vg_safetensors_open (path, &error);
    g_assert_no_error (error);
    vg_test_assert_fails (vg_model_check_file (&huge, st, path, &error), error, VG_MODEL_ERROR,
                          VG_MODEL_ERROR_FAILED, NULL);
  }

  /* Depth-2 weights under metadata saying depth 1: the second blocks are named, not
   * silently dropped. */
  {
    VgConfig cfg = *vg_model_config (model);
    g_autoptr (VgModel) deep = NULL;

    cfg.depths[0] = cfg.depths[1] = cfg.depths[2] = cfg.depths[3] = 2;
    deep = vg_model_new (&cfg, vg_backend_cpu (), &error);
    g_assert_no_error (error);
    save_with_spec (deep, path, SMALL_SPEC, NULL);
    assert_open_fails (path, VG_MODEL_ERROR_FAILED, "does not use", "encoder.stages.0.blocks.1.");
  }

  /* A training checkpoint's state beside the weights is not an unused tensor. */
  {
    float state[4] = { 0 };
    const VgTensorView optim = { "optim.m", VG_DTYPE_F32, 1, { 4 }, 4, state, sizeof state };
    g_autoptr (VgModel) opened = NULL;

    save_with_spec (model, path, SMALL_SPEC, &optim);
    opened = vg_model_open (path, vg_backend_cpu (), NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (opened);
  }

  /* Not-a-number weights (a diverged run's) and an infinite running variance: named. */
  {
    const char *cases[][2] = {
      { "encoder.stages.2.blocks.0.attn.q.weight", "NaN" },
      { "decoder.fuse.bn.running_var", "infinite" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr (VgModel) bad = small_model (3);
        size_t numel = 0;
        float *x = vg_model_tensor (bad, cases[i][0], FALSE, &numel);

        g_assert_nonnull (x);
        x[numel / 2] = i == 0 ? NAN : INFINITY;
        save_model (bad, &test_pre, path);
        assert_open_fails (path, VG_MODEL_ERROR_NOT_FINITE, cases[i][1], cases[i][0]);
        vg_test_assert_fails (vg_model_load (model, path, &error), error, VG_MODEL_ERROR,
                              VG_MODEL_ERROR_NOT_FINITE, NULL);
      }
  }
  tmp_dir_remove (dir);
}

/* ---- the predictor --------------------------------------------------------------------- */

/* Fused resize + argmax against vg_resize_bilinear_forward + vg_argmax (the layer the model
 * itself uses), and the probability of the chosen class and of every class
 * (vg_logits_to_probabilities) against a softmax of the resized logits. */
VG_TEST ("/predict/logits-to-labels", test_logits_to_labels)
{
  const int sizes[][4] = {
    { 64, 64, 512, 512 },   /* 8x up */
    { 48, 80, 100, 70 },    /* up one way, down the other, odd sizes */
    { 256, 256, 100, 100 }, /* down */
    { 32, 32, 32, 32 },     /* identity */
  };
  const int NC = 19;
  GRand *rand = g_rand_new_with_seed (7);

  for (gsize k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      int Hm = sizes[k][0], Wm = sizes[k][1], H = sizes[k][2], W = sizes[k][3];
      g_autofree float *logits = g_new (float, (size_t) Hm * Wm * NC);
      g_autofree float *full = g_new (float, (size_t) H * W * NC);
      g_autofree uint8_t *labels = g_new (uint8_t, (size_t) H * W);
      g_autofree uint8_t *expect = g_new (uint8_t, (size_t) H * W);
      g_autofree float *probs = g_new (float, (size_t) H * W);
      g_autofree float *class_probs = g_new (float, (size_t) NC * H * W);
      g_autofree uint8_t *class_labels = g_new (uint8_t, (size_t) H * W);

      for (size_t i = 0; i < (size_t) Hm * Wm * NC; i++)
        logits[i] = (float) g_rand_double_range (rand, -4, 4);
      vg_resize_bilinear_forward (full, logits, 1, Hm, Wm, H, W, NC);
      vg_argmax (expect, full, (size_t) H * W, NC);
      vg_logits_to_labels (labels, probs, logits, Hm, Wm, H, W, NC);
      /* Same arithmetic in the same order: equal labels, not merely close. */
      g_assert_cmpmem (labels, (size_t) H * W, expect, (size_t) H * W);
      for (size_t i = 0; i < (size_t) H * W; i++)
        {
          const float *z = full + i * NC;
          double sum = 0;
          for (int c = 0; c < NC; c++)
            sum += exp (z[c] - z[expect[i]]);
          /* float rounding of the final division only */
          g_assert_cmpfloat_with_epsilon (probs[i], 1.0 / sum, 1e-6);
        }
      vg_logits_to_probabilities (class_labels, class_probs, logits, Hm, Wm, H, W, NC);
      g_assert_cmpmem (class_labels, (size_t) H * W, expect, (size_t) H * W);
      for (size_t i = 0; i < (size_t) H * W; i++)
        {
          const float *z = full + i * NC;
          double sum = 0, total = 0;

          for (int c = 0; c < NC; c++)
            sum += exp (z[c] - z[expect[i]]);
          for (int c = 0; c < NC; c++)
            {
              float p = class_probs[(size_t) c * H * W + i];

              g_assert_cmpfloat_with_epsilon (p, exp (z[c] - z[expect[i]]) / sum, 1e-6);
              g_assert_cmpfloat (p, <=, class_probs[(size_t) expect[i] * H * W + i]);
              total += p;
            }
          g_assert_cmpfloat_with_epsilon (total, 1.0, 1e-5);
        }
    }
  g_rand_free (rand);
}

/* At resolution == image size the predictor's labels equal a direct forward at the image's
 * own size (whitening done here independently) followed by an argmax. */
VG_TEST ("/predict/image-native", test_predict_image_native)
{
  g_autofree char *jpg = vg_test_shared_path ("celebamask/val/images/0.jpg");
  g_autoptr (VgModel) model = small_model (3);
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (GError) error = NULL;
  VgImage img = { 0 };
  VgPreprocess pre = test_pre;
  g_autofree float *input = NULL;
  g_autofree float *logits = NULL;
  g_autofree uint8_t *labels = NULL, *expect = NULL;
  size_t N;
  int H, W, mismatches = 0;

  if (jpg == NULL)
    return;
  g_assert_true (vg_image_load (&img, jpg, &error));
  g_assert_no_error (error);
  H = img.height;
  W = img.width;
  N = (size_t) H * W;
  pre.resolution = H;
  g_assert_cmpint (H, ==, W);

  predictor = vg_predictor_new (model, &pre, 1, &error);
  g_assert_no_error (error);
  labels = g_new (uint8_t, N);
  g_assert_true (vg_predict_image (predictor, img.data, H, W, labels, NULL, &error));
  g_assert_no_error (error);

  input = g_new (float, N * 3);
  for (size_t i = 0; i < N; i++)
    for (int c = 0; c < 3; c++)
      input[3 * i + c] = (float) ((img.data[3 * i + c] / 255.0 - pre.mean[c]) / pre.std[c]);
  g_assert_true (vg_model_reserve (model, 1, H, W, FALSE, &error));
  vg_model_forward (model, input, NULL, 1, FALSE);
  logits = g_memdup2 (vg_model_logits (model), N * 19 * sizeof (float));
  expect = g_new (uint8_t, N);
  vg_argmax (expect, logits, N, 19);

  /* The whitening here is computed in double, the engine's in float (x * 1/std - mean/std):
   * inputs differ in the last bits, so a pixel whose two best logits are within 1e-3 of
   * each other may flip. Every other pixel must agree, and flips must be rare. */
  for (size_t i = 0; i < N; i++)
    if (labels[i] != expect[i])
      {
        const float *z = logits + i * 19;
        g_assert_cmpfloat (fabsf (z[labels[i]] - z[expect[i]]), <, 1e-3f);
        mismatches++;
      }
  g_assert_cmpint (mismatches, <, (int) (N / 1000));
  /* A model that always said "background" would pass the above: make sure the predictions
   * are a real map (random weights still give several classes). */
  {
    int seen[19] = { 0 }, classes = 0;
    for (size_t i = 0; i < N; i++)
      seen[labels[i]] = 1;
    for (int c = 0; c < 19; c++)
      classes += seen[c];
    g_assert_cmpint (classes, >=, 2);
  }
  vg_image_clear (&img);
}

/* Test-time flip: the labels are the argmax of (L(x) + mirror(swap(L(mirror(x))))) / 2,
 * with L the model's logits and swap the left/right classes (computed here from two plain
 * forwards); and a mirrored image gets exactly the mirrored, class-swapped prediction. */
VG_TEST ("/predict/flip", test_predict_flip)
{
  enum { R = 64, NC = 19 };
  const size_t N = (size_t) R * R;
  g_autoptr (VgModel) model = small_model (7);
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree uint8_t *rgb = g_new (uint8_t, N * 3), *mirrored = g_new (uint8_t, N * 3);
  g_autofree uint8_t *labels = g_new (uint8_t, N), *labels_m = g_new (uint8_t, N);
  g_autofree uint8_t *plain = g_new (uint8_t, N), *expect = g_new (uint8_t, N);
  g_autofree float *probs = g_new (float, N), *probs_m = g_new (float, N);
  g_autofree float *input = g_new (float, N * 3), *l1 = NULL, *avg = g_new (float, N * NC);
  int mismatches = 0, differ = 0;

  /* a smooth pattern with a left/right asymmetry, plus noise */
  for (int y = 0; y < R; y++)
    for (int x = 0; x < R; x++)
      for (int c = 0; c < 3; c++)
        rgb[((size_t) y * R + x) * 3 + c] = (uint8_t) ((x * 3 + y * (c + 1) * 2
                                                        + (rand () % 40)) % 256);
  for (int y = 0; y < R; y++)
    for (int x = 0; x < R; x++)
      memcpy (mirrored + ((size_t) y * R + (R - 1 - x)) * 3, rgb + ((size_t) y * R + x) * 3, 3);

  predictor = vg_predictor_new (model, &test_pre, 1, &error);
  g_assert_no_error (error);
  g_assert_false (vg_predictor_get_flip (predictor));
  g_assert_true (vg_predict_image (predictor, rgb, R, R, plain, probs, &error));
  g_assert_true (vg_predictor_set_flip (predictor, TRUE, &error));
  g_assert_true (vg_predictor_get_flip (predictor));
  g_assert_true (vg_predict_image (predictor, rgb, R, R, labels, probs_m, &error));
  for (size_t i = 0; i < N; i++)
    differ += probs[i] != probs_m[i];
  g_assert_cmpint (differ, >, 0);
  g_assert_true (vg_predict_image (predictor, rgb, R, R, labels, probs, &error));
  g_assert_true (vg_predict_image (predictor, mirrored, R, R, labels_m, probs_m, &error));
  g_assert_no_error (error);

  /* equivariance, to the bit: float addition commutes */
  for (int y = 0; y < R; y++)
    for (int x = 0; x < R; x++)
      {
        size_t i = (size_t) y * R + x, j = (size_t) y * R + (R - 1 - x);
        g_assert_cmpint (labels_m[j], ==, vg_class_mirror (labels[i]));
        g_assert_cmpfloat (probs_m[j], ==, probs[i]);
      }

  /* against two plain forwards, averaged here */
  g_assert_true (vg_model_reserve (model, 1, R, R, FALSE, &error));
  for (int pass = 0; pass < 2; pass++)
    {
      const uint8_t *src = pass == 0 ? rgb : mirrored;
      for (size_t i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
          input[3 * i + c] = (float) ((src[3 * i + c] / 255.0 - test_pre.mean[c])
                                      / test_pre.std[c]);
      vg_model_forward (model, input, NULL, 1, FALSE);
      if (pass == 0)
        {
          l1 = g_memdup2 (vg_model_logits (model), N * NC * sizeof (float));
          continue;
        }
      const float *l2 = vg_model_logits (model);
      for (int y = 0; y < R; y++)
        for (int x = 0; x < R; x++)
          for (int c = 0; c < NC; c++)
            avg[((size_t) y * R + x) * NC + c]
              = 0.5f * (l1[((size_t) y * R + x) * NC + c]
                        + l2[((size_t) y * R + (R - 1 - x)) * NC + vg_class_mirror (c)]);
    }
  vg_argmax (expect, avg, N, NC);
  /* as in /predict/image-native: the whitening here is in double, so near-ties may flip */
  for (size_t i = 0; i < N; i++)
    if (labels[i] != expect[i])
      {
        g_assert_cmpfloat (fabsf (avg[i * NC + labels[i]] - avg[i * NC + expect[i]]), <, 1e-3f);
        mismatches++;
      }
  g_assert_cmpint (mismatches, <, (int) (N / 100));
}

/* vg_evaluate (loader, batches) equals a per-image loop over vg_predict_image: the same
 * confusion, the same per-image mIoU; the loss does not depend on the batch size. */
VG_TEST ("/predict/evaluate-matches-loop", test_evaluate_matches_loop)
{
  g_autoptr (VgSplit) owner = NULL;
  g_autoptr (VgModel) model = small_model (5);
  g_autoptr (VgPredictor) batched = NULL, single = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (VgEvalResult) r3 = { 0 };
  g_auto (VgEvalResult) r1 = { 0 };
  g_auto (VgEvalResult) loop = { 0 };
  float weights[19];
  VgImage img = { 0 }, mask = { 0 };
  VgSplit view;
  const int n = 5;

  if (!val_split (&owner, &view, n))
    return;
  for (int c = 0; c < 19; c++)
    weights[c] = 0.5f + 0.1f * c;

  batched = vg_predictor_new (model, &test_pre, 3, &error);
  g_assert_no_error (error);
  g_assert_true (vg_evaluate (batched, &view, weights, 2, &r3, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&batched, vg_predictor_free);
  single = vg_predictor_new (model, &test_pre, 1, &error);
  g_assert_true (vg_evaluate (single, &view, weights, 1, &r1, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  vg_eval_result_init (&loop, n);
  for (int i = 0; i < n; i++)
    {
      g_autofree uint8_t *labels = NULL;

      g_assert_true (vg_split_load_sample (&view, i, &img, &mask, &error));
      labels = g_new (uint8_t, (size_t) img.height * img.width);
      g_assert_true (vg_predict_image (single, img.data, img.height, img.width, labels, NULL,
                                       &error));
      vg_eval_result_add (&loop, i, mask.data, labels, (size_t) img.height * img.width);
    }
  g_assert_cmpint (r3.n_images, ==, n);
  /* One image per batch: the same forward passes as the loop, so exactly its numbers. */
  g_assert_cmpmem (&r1.confusion, sizeof r1.confusion, &loop.confusion, sizeof loop.confusion);
  for (int i = 0; i < n; i++)
    g_assert_cmpfloat (r1.image_miou[i], ==, loop.image_miou[i]);
  g_assert_cmpmem (r1.class_images, sizeof r1.class_images, loop.class_images,
                   sizeof loop.class_images);
  g_assert_cmpmem (r1.class_missed, sizeof r1.class_missed, loop.class_missed,
                   sizeof loop.class_missed);
  /* Batches of 3: the matrix products take other blocking paths, so logits differ in the
   * last bits and a pixel whose two best classes are nearly tied may flip. At most 1 in
   * 10,000 pixels may move between cells. */
  {
    uint64_t moved = 0;
    for (int t = 0; t < 19; t++)
      for (int p = 0; p < 19; p++)
        moved += (uint64_t) ABS ((int64_t) r3.confusion.counts[t][p]
                                 - (int64_t) loop.confusion.counts[t][p]);
    g_assert_cmpuint (moved, <=, 2 * (uint64_t) n * 512 * 512 / 10000);
  }
  /* 512 x 512 masks of 5 images: every pixel counted once. */
  {
    uint64_t total = 0;
    for (int c = 0; c < 19; c++)
      total += vg_confusion_truth_pixels (&r3.confusion, c);
    g_assert_cmpuint (total, ==, (uint64_t) n * 512 * 512);
  }
  /* Float sums in a different grouping: 1e-5 relative. An untrained model's loss is near
   * ln 19 = 2.94 or above. */
  g_assert_cmpfloat (r3.loss, >, 1.0);
  g_assert_cmpfloat (fabs (r3.loss - r1.loss), <, 1e-5 * r1.loss);
  vg_image_clear (&img);
  vg_image_clear (&mask);
}

/* The evaluation loss against a direct computation: forward each image at the model
 * resolution with nearest-resized masks, weighted cross-entropy pooled over all pixels. */
VG_TEST ("/predict/evaluate-loss", test_evaluate_loss)
{
  g_autoptr (VgSplit) owner = NULL;
  g_autoptr (VgModel) model = small_model (9);
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (VgAugmentScratch) scratch = vg_augment_scratch_new ();
  g_autoptr (GError) error = NULL;
  g_auto (VgEvalResult) r = { 0 };
  const int R = test_pre.resolution, n = 3;
  g_autofree float *input = g_new (float, (size_t) R * R * 3);
  g_autofree uint8_t *target = g_new (uint8_t, (size_t) R * R);
  VgImage img = { 0 }, mask = { 0 };
  VgAugmentParams aug;
  double num = 0, den = 0;
  float weights[19];
  VgSplit view;

  if (!val_split (&owner, &view, n))
    return;
  for (int c = 0; c < 19; c++)
    weights[c] = 1.0f / (1.0f + c);
  predictor = vg_predictor_new (model, &test_pre, 2, &error);
  g_assert_true (vg_evaluate (predictor, &view, weights, 2, &r, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  vg_augment_params_init (&aug, FALSE);
  vg_augment_params_set_whitening (&aug, test_pre.mean, test_pre.std);
  aug.out_height = aug.out_width = R;
  g_assert_true (vg_model_reserve (model, 1, R, R, FALSE, &error));
  for (int i = 0; i < n; i++)
    {
      const float *logits;

      g_assert_true (vg_split_load_sample (&view, i, &img, &mask, &error));
      vg_augment_sample (input, target, img.data, mask.data, &aug, 0, scratch, img.height,
                         img.width);
      vg_model_forward (model, input, NULL, 1, FALSE);
      logits = vg_model_logits (model);
      for (size_t p = 0; p < (size_t) R * R; p++)
        {
          const float *z = logits + p * 19;
          double m = z[0], s = 0;
          for (int c = 1; c < 19; c++)
            m = MAX (m, z[c]);
          for (int c = 0; c < 19; c++)
            s += exp (z[c] - m);
          num += weights[target[p]] * (m + log (s) - z[target[p]]);
          den += weights[target[p]];
        }
    }
  /* float logits, double sums on both sides: 1e-5 relative */
  g_assert_cmpfloat (fabs (r.loss - num / den), <, 1e-5 * (num / den));
  vg_image_clear (&img);
  vg_image_clear (&mask);
}

/* Validation during training shares the training reservation: after an evaluation with
 * VG_PREDICTOR_KEEP_RESERVATION a training step still runs on the same activations. */
VG_TEST ("/predict/keep-reservation", test_keep_reservation)
{
  g_autoptr (VgSplit) owner = NULL;
  g_autoptr (VgModel) model = small_model (11);
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (VgEvalResult) r = { 0 };
  const int R = test_pre.resolution, B = 2;
  g_autofree float *images = g_new0 (float, (size_t) B * R * R * 3);
  g_autofree uint8_t *targets = g_new0 (uint8_t, (size_t) B * R * R);
  VgPreprocess no_res = test_pre;
  VgSplit view;
  float loss;

  if (!val_split (&owner, &view, 3))
    return;
  g_assert_true (vg_model_reserve (model, B, R, R, TRUE, &error));
  no_res.resolution = 0;
  g_assert_null (vg_predictor_new_full (model, &no_res, B, VG_PREDICTOR_KEEP_RESERVATION,
                                        &error));
  g_assert_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_INVALID);
  g_clear_error (&error);
  predictor = vg_predictor_new_full (model, &test_pre, B, VG_PREDICTOR_KEEP_RESERVATION,
                                     &error);
  g_assert_no_error (error);
  g_assert_true (vg_evaluate (predictor, &view, NULL, 1, &r, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (r.n_images, ==, 3);
  vg_model_zero_grad (model);
  loss = vg_model_forward (model, images, targets, B, TRUE);
  vg_model_backward (model);
  g_assert_true (isfinite (loss) && loss > 0);
}

static void
on_progress_cancel (int done, int total, gpointer data)
{
  if (done > 0)
    g_cancellable_cancel (data);
}

VG_TEST ("/predict/evaluate-cancel", test_evaluate_cancel)
{
  g_autoptr (VgSplit) owner = NULL;
  g_autoptr (VgModel) model = small_model (5);
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_auto (VgEvalResult) r = { 0 };
  VgSplit view;

  if (!val_split (&owner, &view, 8))
    return;
  predictor = vg_predictor_new (model, &test_pre, 2, &error);
  /* Cancelled from the progress callback after the first batch: stops there. */
  vg_test_assert_fails (vg_evaluate (predictor, &view, NULL, 2, &r, on_progress_cancel,
                                    cancellable, cancellable, &error),
                        error, G_IO_ERROR, G_IO_ERROR_CANCELLED, NULL);
  vg_eval_result_clear (&r);
  /* The predictor is usable again with a fresh run. */
  g_assert_true (vg_evaluate (predictor, &view, NULL, 2, &r, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

/* A model without a fixed resolution refuses images that are not multiples of 32. */
VG_TEST ("/predict/native-resolution-sizes", test_native_resolution_sizes)
{
  g_autoptr (VgModel) model = small_model (5);
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (GError) error = NULL;
  VgPreprocess pre = test_pre;
  uint8_t rgb[3 * 64 * 96] = { 0 }, labels[64 * 96];

  pre.resolution = 0;
  predictor = vg_predictor_new (model, &pre, 1, &error);
  g_assert_no_error (error);
  g_assert_true (vg_predict_image (predictor, rgb, 64, 96, labels, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (vg_predict_image (predictor, rgb, 50, 96, labels, NULL, &error));
  g_assert_error (error, VG_PREDICT_ERROR, VG_PREDICT_ERROR_SIZE);
}

/* ---- metrics ------------------------------------------------------------------------- */

VG_TEST ("/predict/eval-result-by-hand", test_eval_result_by_hand)
{
  /* image 0: truth 0 0 1 1 255   image 1: truth 2 2 2 0
   *          pred  0 1 1 1 3              pred  0 0 0 0
   * image 0: class 0 I 1 U 2, class 1 I 2 U 3 (the 255 pixel is ignored) -> (1/2 + 2/3) / 2
   * image 1: class 0 I 1 U 4, class 2 I 0 U 3 -> (1/4 + 0) / 2; class 2 is missed there. */
  const uint8_t t0[] = { 0, 0, 1, 1, 255 }, p0[] = { 0, 1, 1, 1, 3 };
  const uint8_t t1[] = { 2, 2, 2, 0 }, p1[] = { 0, 0, 0, 0 };
  g_auto (VgEvalResult) r = { 0 };

  vg_eval_result_init (&r, 2);
  vg_eval_result_add (&r, 0, t0, p0, 5);
  vg_eval_result_add (&r, 1, t1, p1, 4);
  g_assert_cmpfloat_with_epsilon (r.image_miou[0], (0.5 + 2.0 / 3) / 2, 1e-12);
  g_assert_cmpfloat_with_epsilon (r.image_miou[1], 0.125, 1e-12);
  g_assert_cmpint (r.class_images[0], ==, 2);
  g_assert_cmpint (r.class_images[1], ==, 1);
  g_assert_cmpint (r.class_images[2], ==, 1);
  g_assert_cmpint (r.class_images[3], ==, 0);
  g_assert_cmpint (r.class_missed[0], ==, 0);
  g_assert_cmpint (r.class_missed[2], ==, 1);
  /* dataset level: class 0 TP 1 + 1, FP 0 + 3, FN 1 + 0 -> 2/6 (the ignored pixel's
   * prediction counts nowhere) */
  g_assert_cmpfloat_with_epsilon (vg_confusion_iou (&r.confusion, 0), 2.0 / 6, 1e-12);
  g_assert_cmpuint (r.confusion.counts[2][0], ==, 3);
}

/* ---- output encoders ------------------------------------------------------------------- */

VG_TEST ("/predict/png-encoders", test_png_encoders)
{
  g_autofree char *dir = tmp_dir_new ();
  g_autofree char *grey = g_build_filename (dir, "g.png", NULL);
  g_autofree char *pal = g_build_filename (dir, "p.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  const int H = 37, W = 53;
  uint8_t mask[37 * 53];
  VgImage back = { 0 };
  VgImageInfo info;

  for (int i = 0; i < H * W; i++)
    mask[i] = (uint8_t) ((i * 7 + i / W) % 19);
  g_assert_true (vg_mask_save_grey (grey, mask, H, W, &error));
  g_assert_no_error (error);
  g_assert_true (vg_image_probe (&info, grey, &error));
  g_assert_cmpint (info.png_color_type, ==, PNG_COLOR_TYPE_GRAY);
  g_assert_cmpint (info.bit_depth, ==, 8);
  g_assert_true (vg_mask_load (&back, grey, &error));
  g_assert_cmpint (back.height, ==, H);
  g_assert_cmpint (back.width, ==, W);
  g_assert_cmpmem (back.data, H * W, mask, H * W);

  bytes = vg_mask_encode_png (mask, H, W, TRUE, &error);
  g_assert_no_error (error);
  write_bytes (pal, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_assert_true (vg_image_probe (&info, pal, &error));
  g_assert_cmpint (info.png_color_type, ==, PNG_COLOR_TYPE_PALETTE);
  g_assert_true (vg_mask_load (&back, pal, &error));
  g_assert_cmpmem (back.data, H * W, mask, H * W);

  /* A palette PNG holds classes only. */
  mask[5] = 19;
  g_assert_null (vg_mask_encode_png (mask, H, W, TRUE, &error));
  g_assert_error (error, VG_DATA_ERROR, VG_DATA_ERROR_VALUE);
  vg_image_clear (&back);
  tmp_dir_remove (dir);
}

VG_TEST ("/predict/overlay", test_overlay)
{
  const uint8_t rgb[6] = { 10, 20, 30, 200, 100, 0 }, labels[2] = { 1, 13 };
  uint8_t out[6];
  const uint8_t *skin = vg_class_rgb (1), *hair = vg_class_rgb (13);

  vg_overlay_render (out, rgb, labels, 1, 2, 0.0f);
  g_assert_cmpmem (out, 6, rgb, 6);
  vg_overlay_render (out, rgb, labels, 1, 2, 1.0f);
  g_assert_cmpmem (out, 3, skin, 3);
  g_assert_cmpmem (out + 3, 3, hair, 3);
  vg_overlay_render (out, rgb, labels, 1, 2, 0.5f);
  for (int c = 0; c < 3; c++)
    g_assert_cmpint (abs ((int) out[c] - (rgb[c] + skin[c]) / 2), <=, 1);
}

VG_TEST_MAIN ()
