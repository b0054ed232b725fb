/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fixtures for the service and workbench tests: a tiny random-weight model file. Split
 * folders of symbolic links into ../shared come from vg_test_link_split_names() in
 * test-common.h. */
#pragma once

#include <glib.h>

#include "test-common.h"
#include "vg-model.h"
#include "vg-predict.h"

/* A model small enough to predict a 512x512 image in a few tens of milliseconds: its
 * predictions are meaningless but deterministic for the seed, which is all the tests of
 * the plumbing need. resolution: the model's input size (a multiple of 32; the larger, the
 * slower). Written to dir/name; returns the path. */
/* The same for a configuration by name (vg_config_from_name: "seed", "unet", "fastscnn",
 * ...) with spec (NULL: none) parsed over it. */
static inline char *
vg_test_write_model_of (const char *dir, const char *name, const char *config,
                        const char *spec, guint64 seed, int resolution)
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

  g_assert_true (vg_config_from_name (&cfg, config, &error));
  g_assert_true (spec == NULL || vg_config_parse (&cfg, spec, &error));
  g_assert_no_error (error);
  model = vg_model_new (&cfg, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  vg_model_init (model, seed);
  metadata = vg_preprocess_to_metadata (&pre);
  g_assert_true (vg_model_save (model, path, (const char *const *) metadata, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

static inline char *
vg_test_write_tiny_model (const char *dir, const char *name, guint64 seed, int resolution)
{
  return vg_test_write_model_of (dir, name, "seed", "widths=8,16,24,32 depths=1,1,1,1 "
                                 "heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=16 head=bilinear",
                                 seed, resolution);
}
