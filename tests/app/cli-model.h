/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Small freshly initialised models for the app tests (no training: predictions are
 * arbitrary but deterministic, which is all these tests need), and the predictor's labels
 * computed in the test's own process. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "vg-backend.h"
#include "vg-image.h"
#include "vg-model-file.h"
#include "vg-known-models.h"
#include "vg-predict.h"

/* A small custom configuration: fast on two cores, and not a shipped name, so reopening
 * it exercises the spec in the metadata. */
#define SMALL_SPEC "widths=16,32,64,128 depths=1,1,1,1 heads=1,2,4,8 ratios=8,4,2,1 mlp=2 " \
                   "dim=64 head=bilinear"

static inline VgModel *
small_model (uint64_t seed)
{
  g_autoptr (GError) error = NULL;
  VgConfig cfg;
  VgModel *model;

  g_assert_true (vg_config_from_name (&cfg, "seed", NULL));
  g_assert_true (vg_config_parse (&cfg, SMALL_SPEC, &error));
  g_assert_no_error (error);
  model = vg_model_new (&cfg, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  vg_model_init (model, seed);
  return model;
}

/* A model file at resolution 64 (fast), with preprocessing metadata. */
static inline char *
write_model (const char *dir, int resolution)
{
  const VgPreprocess pre = { { 0.52, 0.43, 0.38 }, { 0.29, 0.26, 0.25 }, resolution };
  g_autoptr (VgModel) model = small_model (42);
  g_auto (GStrv) meta = vg_preprocess_to_metadata (&pre);
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, "model.safetensors", NULL);

  g_assert_true (vg_model_save (model, path, (const char *const *) meta, &error));
  g_assert_no_error (error);
  return path;
}

/* The predictor's labels for one image, computed in this process; with probs, also a copy
 * of its class probabilities (NC, H, W). */
static inline uint8_t *
predict_here_full (const char *model_path, const char *image_path, int *H, int *W,
                   float **probs)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  VgImage img = { 0 };
  VgPreprocess pre;
  uint8_t *labels;
  size_t n;

  model = vg_model_open (model_path, vg_backend_cpu (), &pre, &error);
  g_assert_no_error (error);
  predictor = vg_predictor_new (model, &pre, 1, &error);
  g_assert_no_error (error);
  vg_predictor_set_probabilities (predictor, probs != NULL);
  g_assert_true (vg_image_load (&img, image_path, &error));
  n = (size_t) img.height * img.width;
  labels = g_new (uint8_t, n);
  g_assert_true (vg_predict_image (predictor, img.data, img.height, img.width, labels, NULL,
                                   &error));
  g_assert_no_error (error);
  if (probs != NULL)
    *probs = g_memdup2 (vg_predictor_probabilities (predictor),
                        n * VG_NUM_CLASSES * sizeof (float));
  *H = img.height;
  *W = img.width;
  vg_image_clear (&img);
  return labels;
}

/* The predictor's labels for one image, computed in this process. */
static inline uint8_t *
predict_here (const char *model_path, const char *image_path, int *H, int *W)
{
  return predict_here_full (model_path, image_path, H, W, NULL);
}

