/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Model files (vg_model_open in engine/vg-predict.c, what `visage-cli eval/predict`, the
 * workbench and --init open): the safetensors reader, then the configuration in the
 * metadata ("visage.config" on top of "visage.config_name", vg_config_parse), the
 * preprocessing metadata (mean, std, resolution), the model built from that configuration
 * and vg_model_load checking every tensor's name, dtype and shape (F32, F16 or BF16 data,
 * the I64 BatchNorm counters).
 *
 * A model that opens also parses one 32 x 32 image when it is small enough to be quick
 * (resolution 0 or at most 64, at most 200,000 parameters), so that whatever weights a
 * file holds (NaN, infinities) go through the forward pass and the argmax.
 * Invariants: a refusal is a GError naming the file; labels are class ids. */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "vg-backend.h"
#include "vg-model.h"
#include "vg-predict.h"

static void
predict_once (VgModel *model, const VgPreprocess *pre)
{
  g_autoptr (VgPredictor) predictor = NULL;
  g_autoptr (GError) error = NULL;
  const int NC = vg_model_config (model)->num_classes;
  uint8_t rgb[32 * 32 * 3];
  uint8_t labels[32 * 32];
  float probs[32 * 32];

  if ((pre->resolution != 0 && pre->resolution > 64) || vg_model_num_params (model) > 200000)
    return;
  for (size_t i = 0; i < sizeof rgb; i++)
    rgb[i] = (uint8_t) (i * 7);
  predictor = vg_predictor_new (model, pre, 1, &error);
  if (predictor == NULL)
    return;
  if (!vg_predict_image (predictor, rgb, 32, 32, labels, probs, &error))
    return;
  for (int i = 0; i < 32 * 32; i++)
    if (labels[i] >= NC)
      fuzz_fail ("label %d of a %d-class model", labels[i], NC);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path = fuzz_write ("model.safetensors", data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  VgPreprocess pre = { 0 }, again = { 0 };

  model = vg_model_open (path, vg_backend_cpu (), &pre, &error);
  if (model == NULL)
    {
      fuzz_check_error (error, path);
      return 0;
    }
  if (!vg_preprocess_from_file (&again, path, &error))
    fuzz_fail ("the model opens but its preprocessing does not: %s", error->message);
  if (memcmp (&pre, &again, sizeof pre) != 0)
    fuzz_fail ("two readings of the preprocessing differ");
  predict_once (model, &pre);
  return 0;
}
