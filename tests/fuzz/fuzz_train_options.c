/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The options of a stopped training run, read back from its last.safetensors when it is
 * resumed (vg_train_options_load in engine/vg-train.c: `visage-cli train --resume` and the
 * training dialog's offer to resume a folder): the safetensors reader, the configuration
 * spec, the folders, integers, numbers and names of the metadata; then
 * vg_train_options_validate, as vg_train_run does before touching a file; and the
 * training log kept in the checkpoint (vg_train_read_log), which the Training page plots.
 *
 * Invariants: a refusal names the file; options that load are marked for resuming in
 * that folder. */
#include "config.h"

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "vg-train.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static char *run_dir;
  const char *path;
  g_autoptr (GError) error = NULL;
  g_autofree char *log = NULL;
  VgTrainOptions o;

  if (run_dir == NULL)
    {
      run_dir = g_build_filename (fuzz_dir (), "run", NULL);
      g_mkdir (run_dir, 0700);
    }
  path = fuzz_write ("run/last.safetensors", data, size);
  log = vg_train_read_log (run_dir, &error);
  if (log == NULL)
    fuzz_check_error (error, path);
  else if (!g_str_has_prefix (log, "epoch,"))
    fuzz_fail ("the log read back has no header: %.40s", log);
  g_clear_error (&error);

  vg_train_options_init (&o);
  if (!vg_train_options_load (&o, run_dir, &error))
    {
      fuzz_check_error (error, path);
      vg_train_options_clear (&o);
      return 0;
    }
  if (!o.resume || g_strcmp0 (o.out_dir, run_dir) != 0)
    fuzz_fail ("loaded options are not a resume of %s", run_dir);
  if (!vg_train_options_validate (&o, &error) && error == NULL)
    fuzz_fail ("options refused without an error");
  vg_train_options_clear (&o);
  return 0;
}
