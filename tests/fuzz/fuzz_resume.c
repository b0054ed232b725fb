/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Resuming a training run from a fuzzed last.safetensors, as `visage-cli train --resume`
 * and the workbench do: vg_train_options_load, then vg_train_run, whose set-up reads the
 * checkpoint again (engine/vg-train.c load_last: the options it must match, the schedule
 * state, whitening, class weights, the log rewritten to log.csv, the weights and the
 * optimiser's moments) before it would train.
 *
 * The seed is the checkpoint of a one-epoch run of a tiny model on the two-sample split
 * of fuzz-seeds (FUZZ_SPLIT), so the folders it names exist. The epoch limit is set to 1:
 * a checkpoint past its first epoch has nothing left to train, and one that is not trains
 * one epoch of two 32 x 32 images. Invariants: a refusal comes with an error. */
#include "config.h"

#include <stdio.h>

#include <glib/gstdio.h>

#include "fuzz-common.h"
#include "vg-train.h"

static char *run_dir;

static void
setup (void)
{
  g_autofree char *data = g_build_filename (fuzz_dir (), "xdg-data", NULL);
  g_autofree char *cache = g_build_filename (fuzz_dir (), "xdg-cache", NULL);

  /* Training records its best models in the user's data folder: a private one. */
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  run_dir = g_build_filename (fuzz_dir (), "run", NULL);
  g_mkdir (run_dir, 0700);
}

static void
clean_run_dir (void)
{
  g_autoptr (GDir) dir = g_dir_open (run_dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (run_dir, name, NULL);
      g_unlink (path);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path;
  g_autoptr (GError) error = NULL;
  VgTrainOptions o;

  if (run_dir == NULL)
    setup ();
  clean_run_dir ();
  path = fuzz_write ("run/last.safetensors", data, size);
  vg_train_options_init (&o);
  if (!vg_train_options_load (&o, run_dir, &error))
    {
      fuzz_check_error (error, path);
      vg_train_options_clear (&o);
      return 0;
    }
  o.epochs = 1;
  o.workers = 1;
  o.threads = 1;
  o.checkpoint_minutes = 0.0;
  if (!vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error) && error == NULL)
    fuzz_fail ("the run failed without an error");
  if (g_getenv ("FUZZ_VERBOSE") != NULL)
    fprintf (stderr, "fuzz: resumed: %s\n", error != NULL ? error->message : "ok");
  vg_train_options_clear (&o);
  return 0;
}
