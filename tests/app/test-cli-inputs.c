/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli eval | predict | export-submission | stats | convert given bad inputs as a
 * user might: damaged, missing and non-regular files, a model file whose metadata lies, an
 * output that cannot be written, and a process interrupted or terminated while it works.
 * Each must end with a clear error naming the file (or the signal's status), never a crash
 * or a hang. Models are freshly initialised (no training). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli-model.h"
#include "cli-run.h"
#include "engine/data/data-test-util.h"
#include "test-common.h"
#include "test-safetensors-util.h"
#include "vg-classes.h"
#include "vg-image.h"
#include "vg-predict.h"
#include "vg-safetensors.h"
#include "vg-split.h"
#include "test-register.h"


/* Each bad input: a non-zero exit (not a signal), and a message naming the file. */
static void
expect_failure (const char *what, const char *needle, const char *first, ...)
{
  g_auto (CliRun) run = { 0 };
  va_list ap;

  va_start (ap, first);
  vg_test_run_cli_valist (&run, first, ap);
  va_end (ap);
  g_test_message ("%s: status %d: %s", what, run.status, run.err);
  if (run.status != 1 || strstr (run.err, needle) == NULL)
    g_error ("%s: expected status 1 and a message naming %s, got %d:\n%s", what, needle,
             run.status, run.err);
}

VG_TEST ("/cli-inputs/bad-inputs", test_bad_inputs)
{
  g_auto (GStrv) names = val_names (2);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *good = NULL;
  g_autofree char *missing = g_build_filename (tmp, "no-such-folder", NULL);
  g_autoptr (GError) error = NULL;

  if (names == NULL)
    return;
  model = write_model (tmp, 64);
  good = vg_test_link_val_split (tmp, "good", names);

  expect_failure ("missing folder", missing, "eval", "--model", model, "--data", missing,
                  NULL);
  {
    g_autofree char *img = g_build_filename (tmp, "no-such-image.jpg", NULL);
    g_autofree char *out = g_build_filename (tmp, "out", NULL);
    expect_failure ("missing image", img, "predict", img, "--model", model, "--out", out,
                    NULL);
  }

  /* A JPEG cut off in its entropy-coded data, and one whose data is garbage. */
  {
    g_autofree char *src = g_strdup_printf ("%s/images/%s.jpg", good, names[0]);
    g_autofree char *bytes = NULL;
    g_autofree char *bad = vg_test_link_val_split (tmp, "bad-jpeg", names);
    g_autofree char *bad_img = g_strdup_printf ("%s/images/%s.jpg", bad, names[1]);
    g_autofree char *out = g_build_filename (tmp, "out-jpeg", NULL);
    gsize len;

    g_assert_true (g_file_get_contents (src, &bytes, &len, NULL));
    g_unlink (bad_img);
    write_bytes (bad_img, bytes, len / 3);
    expect_failure ("truncated JPEG (eval)", bad_img, "eval", "--model", model, "--data", bad,
                    NULL);
    expect_failure ("truncated JPEG (predict)", bad_img, "predict", bad_img, "--model", model,
                    "--out", out, NULL);
    for (gsize i = len / 4; i < len - 2; i++)
      bytes[i] = (char) (i * 131 % 251);
    g_unlink (bad_img);
    write_bytes (bad_img, bytes, len);
    expect_failure ("corrupt JPEG", bad_img, "predict", bad_img, "--model", model,
                    "--out", out, NULL);
  }

  /* A truncated mask PNG. */
  {
    g_autofree char *src = g_strdup_printf ("%s/masks/%s.png", good, names[0]);
    g_autofree char *bytes = NULL;
    g_autofree char *bad = vg_test_link_val_split (tmp, "bad-png", names);
    g_autofree char *bad_mask = g_strdup_printf ("%s/masks/%s.png", bad, names[0]);
    g_autofree char *good_masks = g_build_filename (good, "masks", NULL);
    gsize len;

    g_assert_true (g_file_get_contents (src, &bytes, &len, NULL));
    g_unlink (bad_mask);
    write_bytes (bad_mask, bytes, len / 2);
    expect_failure ("truncated PNG", bad_mask, "eval", "--model", model, "--data", bad, NULL);
    expect_failure ("truncated PNG (predictions)", bad_mask, "eval", "--predictions",
                    good_masks, "--data", bad, NULL);
  }

  /* A grey mask containing 255 (an "ignore" value that is not a class). */
  {
    g_autofree char *bad = vg_test_link_val_split (tmp, "bad-grey", names);
    g_autofree char *bad_mask = g_strdup_printf ("%s/masks/%s.png", bad, names[1]);
    g_autofree uint8_t *grey = g_new0 (uint8_t, 512 * 512);

    memset (grey + 512 * 100, 255, 512 * 10);
    g_unlink (bad_mask);
    g_assert_true (vg_mask_save_grey (bad_mask, grey, 512, 512, &error));
    expect_failure ("grey mask with 255", bad_mask, "eval", "--model", model, "--data", bad,
                    NULL);
  }

  /* A truncated model file, and a model whose tensors do not fit its stated configuration. */
  {
    g_autofree char *bytes = NULL;
    g_autofree char *cut = g_build_filename (tmp, "cut.safetensors", NULL);
    g_autofree char *other = g_build_filename (tmp, "other.safetensors", NULL);
    g_autofree char *out = g_build_filename (tmp, "out-model", NULL);
    const char *meta[] = { "visage.config", "", "visage.config_name", "visage-s",
                           "visage.mean", "0.5,0.5,0.5", "visage.std", "0.2,0.2,0.2",
                           "visage.resolution", "64", NULL };
    gsize len;

    g_assert_true (g_file_get_contents (model, &bytes, &len, NULL));
    write_bytes (cut, bytes, len * 2 / 3);
    expect_failure ("truncated model", cut, "eval", "--model", cut, "--data", good, NULL);
    expect_failure ("truncated model (predict)", cut, "predict", good, "--model", cut,
                    "--out", out, NULL);

    vg_test_write_with_metadata (model, other, meta);
    expect_failure ("model of another configuration", other, "eval", "--model", other,
                    "--data", good, NULL);
    expect_failure ("model of another configuration (export)", other, "export-submission",
                    "--model", other, "--images", good, "--out", out, NULL);
  }

  /* A mask of another size than its image. */
  {
    g_autofree char *bad = vg_test_link_val_split (tmp, "bad-size", names);
    g_autofree char *bad_mask = g_strdup_printf ("%s/masks/%s.png", bad, names[0]);
    uint8_t small[64 * 64] = { 0 };

    g_unlink (bad_mask);
    g_assert_true (vg_mask_save (bad_mask, small, 64, 64, &error));
    expect_failure ("mask size", bad_mask, "eval", "--model", model, "--data", bad, NULL);
  }
  vg_test_rm_rf (tmp);
}

/* Ctrl-C: eval stops at the next batch, exits 130 and writes no result file. */
VG_TEST ("/cli-inputs/interrupt", test_interrupt)
{
  g_auto (GStrv) names = val_names (60);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *model = NULL;
  g_autofree char *json = g_build_filename (tmp, "e.json", NULL);
  g_autoptr (GString) err = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  const char *argv[] = { g_getenv ("VISAGE_CLI"), "eval", "--model", NULL, "--data", NULL,
                         "--json", json, "--batch", "1", "--workers", "1", NULL };
  GPid pid;
  int err_fd, status = 0;
  gboolean signalled = FALSE;
  char buf[4096];
  ssize_t n;

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  /* At the images' full size, so the run lasts long enough to be interrupted. */
  model = write_model (tmp, 512);
  argv[3] = model;
  argv[5] = data;
  g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                            &pid, NULL, NULL, &err_fd, &error);
  g_assert_no_error (error);
  /* "data:" is printed after the handlers are installed and before the first image. */
  while ((n = read (err_fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      g_assert_cmpint (n, >, 0);
      g_string_append_len (err, buf, n);
      if (!signalled && strstr (err->str, "data: ") != NULL)
        {
          g_assert_cmpint (kill (pid, SIGINT), ==, 0);
          signalled = TRUE;
        }
    }
  close (err_fd);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (signalled);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 130);
  g_assert_nonnull (strstr (err->str, "interrupted"));
  g_assert_false (g_file_test (json, G_FILE_TEST_EXISTS));
  vg_test_rm_rf (tmp);
}

/* ---- inputs that used to hang, abort or pass silently (issue 16) ----------------------- */

/* visage-cli with the arguments, under `timeout` (when installed) so that a regression (a
 * hang) fails this test with status 124 instead of stalling the suite; and with the
 * address space limited to limit_kib when not 0 (sh's ulimit -v). */
static void
run_cli_bounded (CliRun *run, int limit_kib, const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  char *timeout = g_find_program_in_path ("timeout");
  va_list ap;

  if (timeout != NULL)
    {
      g_ptr_array_add (argv, timeout);
      g_ptr_array_add (argv, g_strdup ("-k"));
      g_ptr_array_add (argv, g_strdup ("5"));
      g_ptr_array_add (argv, g_strdup ("60"));
    }
  if (limit_kib > 0)
    {
      g_ptr_array_add (argv, g_strdup ("/bin/sh"));
      g_ptr_array_add (argv, g_strdup ("-c"));
      g_ptr_array_add (argv, g_strdup_printf ("ulimit -v %d && exec \"$0\" \"$@\"", limit_kib));
    }
  g_ptr_array_add (argv, g_strdup (g_getenv ("VISAGE_CLI")));
  va_start (ap, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  vg_test_run_cli_argv (run, (const char *const *) argv->pdata, NULL);
}

#define expect_bounded_failure(what, needle, ...)                                            \
  G_STMT_START {                                                                             \
    g_auto (CliRun) run_ = { 0 };                                                            \
    run_cli_bounded (&run_, 0, __VA_ARGS__, NULL);                                           \
    g_test_message ("%s: status %d: %s", what, run_.status, run_.err);                       \
    if (run_.status != 1 || strstr (run_.err, needle) == NULL)                               \
      g_error ("%s: expected status 1 and a message naming %s, got %d:\n%s", what, needle,   \
               run_.status, run_.err);                                                       \
  } G_STMT_END

/* A FIFO among the masks, as an image or as the model: each command fails at once naming
 * it (open() of a FIFO used to block forever); and a folder, a FIFO or a broken link named
 * like an image in images/ is not dropped without a word (eval and stats counted one image
 * fewer and exited 0): both refuse, naming it, and eval --skip-bad leaves each out with a
 * warning naming it. */
VG_TEST ("/cli-inputs/not-regular-inputs", test_not_regular_inputs)
{
  g_auto (GStrv) names = val_names (2);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *data = NULL, *fifo_mask = NULL, *entries = NULL;
  g_autofree char *fifo = g_build_filename (tmp, "model.fifo", NULL);
  g_autofree char *out = g_build_filename (tmp, "out", NULL);

  if (names == NULL)
    return;
  model = write_model (tmp, 64);
  data = vg_test_link_val_split (tmp, "fifo-mask", names);
  fifo_mask = g_strdup_printf ("%s/masks/%s.png", data, names[1]);
  g_unlink (fifo_mask);
  g_assert_cmpint (mkfifo (fifo_mask, 0600), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);

  expect_bounded_failure ("FIFO mask (eval)", fifo_mask, "eval", "--model", model,
                          "--data", data);
  expect_bounded_failure ("FIFO mask (stats)", fifo_mask, "stats", data);
  expect_bounded_failure ("FIFO image (predict)", fifo_mask, "predict", fifo_mask,
                          "--model", model, "--out", out);
  expect_bounded_failure ("FIFO model (eval)", fifo, "eval", "--model", fifo, "--data", data);

  entries = vg_test_link_val_split (tmp, "entries", names);
  {
    g_autofree char *folder = g_build_filename (entries, "images", "a-folder.jpg", NULL);
    g_autofree char *broken = g_build_filename (entries, "images", "b-broken.jpg", NULL);
    g_autofree char *pipe = g_build_filename (entries, "images", "c-pipe.png", NULL);
    g_autofree char *gone = g_build_filename (tmp, "gone.jpg", NULL);
    g_autofree char *cache = make_subdir (tmp, "cache");
    g_auto (CliRun) skip = { 0 };

    g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
    g_assert_cmpint (symlink (gone, broken), ==, 0);
    g_assert_cmpint (mkfifo (pipe, 0600), ==, 0);
    /* The first bad entry in natural order is the folder. */
    expect_bounded_failure ("folder in images/ (eval)", folder, "eval", "--model", model,
                            "--data", entries);
    expect_bounded_failure ("folder in images/ (stats)", folder, "stats", entries);
    expect_bounded_failure ("folder in images/ (predict)", folder, "predict", entries,
                            "--model", model, "--out", out);

    run_cli_bounded (&skip, 0, "eval", "--model", model, "--data", entries, "--skip-bad",
                     NULL);
    g_assert_cmpint (skip.status, ==, 0);
    g_assert_nonnull (strstr (skip.err, "(2 images)"));
    for (const char *const *p = (const char *const[]) { folder, broken, pipe, NULL }; *p; p++)
      {
        g_autofree char *line = g_strdup_printf ("warning: skipped %s", *p);
        g_assert_nonnull (strstr (skip.err, line));
      }
  }
  vg_test_rm_rf (tmp);
}

/* A JPEG whose compressed data has bytes inserted: libjpeg decodes it with only a warning
 * ("Corrupt JPEG data: N extraneous bytes before marker 0xd9") into partly garbage pixels,
 * which used to be scored. It is an error naming the file; --skip-bad leaves it out with
 * a notice. */
VG_TEST ("/cli-inputs/damaged-jpeg", test_damaged_jpeg_input)
{
  g_auto (GStrv) names = val_names (3);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *data = NULL, *bad = NULL, *bytes = NULL;
  g_autoptr (GByteArray) damaged = g_byte_array_new ();
  g_auto (CliRun) skip = { 0 };
  guint8 extra[100];
  gsize len;

  if (names == NULL)
    return;
  model = write_model (tmp, 64);
  data = vg_test_link_val_split (tmp, "data", names);
  bad = g_strdup_printf ("%s/images/%s.jpg", data, names[1]);
  g_assert_true (g_file_get_contents (bad, &bytes, &len, NULL));
  g_assert_cmpuint (len, >, 20000);
  for (int i = 0; i < 100; i++)
    extra[i] = (guint8) (i + 1);
  g_byte_array_append (damaged, (const guint8 *) bytes, 20000);
  g_byte_array_append (damaged, extra, sizeof extra);
  g_byte_array_append (damaged, (const guint8 *) bytes + 20000, len - 20000);
  g_unlink (bad);
  write_bytes (bad, damaged->data, damaged->len);

  expect_bounded_failure ("damaged JPEG (eval)", bad, "eval", "--model", model, "--data", data);
  expect_bounded_failure ("damaged JPEG (stats)", bad, "stats", data);
  run_cli_bounded (&skip, 0, "eval", "--model", model, "--data", data, "--skip-bad", NULL);
  g_assert_cmpint (skip.status, ==, 0);
  g_assert_nonnull (strstr (skip.err, "(2 images)"));
  g_assert_nonnull (strstr (skip.err, "warning: skipped"));
  g_assert_nonnull (strstr (skip.err, bad));
  g_assert_nonnull (strstr (skip.err, "extraneous bytes"));
  vg_test_rm_rf (tmp);
}

/* Metadata that describes a far larger model than the tensors: the shape error comes at
 * once and within a modest memory limit (it used to allocate and initialise the large
 * model first, and died in g_new under a limit). Depth-1 metadata over depth-2 weights
 * names the unused tensors; NaN weights are refused by tensor name. */
VG_TEST ("/cli-inputs/model-metadata-checked", test_model_metadata_checked)
{
  g_auto (GStrv) names = val_names (2);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *data = NULL;
  g_autofree char *huge = g_build_filename (tmp, "huge.safetensors", NULL);
  g_autofree char *shallow = g_build_filename (tmp, "shallow.safetensors", NULL);
  g_autofree char *nan = g_build_filename (tmp, "nan.safetensors", NULL);
  g_autofree char *converted = g_build_filename (tmp, "converted.safetensors", NULL);
  g_autofree char *out = g_build_filename (tmp, "out", NULL);
  const VgPreprocess pre = { { 0.52, 0.43, 0.38 }, { 0.29, 0.26, 0.25 }, 64 };
  g_auto (GStrv) meta = vg_preprocess_to_metadata (&pre);
  g_autoptr (GError) error = NULL;

  if (names == NULL)
    return;
  model = write_model (tmp, 64);
  data = vg_test_link_val_split (tmp, "data", names);
  /* The small model's tensors under the spec of one with two stages 4096 wide (some
   * 10^8 parameters a copy, and loading used to hold four copies). */
  vg_test_rewrite_safetensors (model, huge, NULL, "visage.config",
                               "widths=16,4096,4096,128 depths=1,1,1,1 heads=1,2,4,8 "
                               "ratios=8,4,2,1 mlp=2 dim=64 head=bilinear");
  /* 2.5 GB of address space: enough for eval with the real model, not for the large one.
   * AddressSanitizer reserves terabytes of address space for its shadow memory, so in the
   * sanitizer build the limit cannot apply: the checks run unbounded there. */
#if defined(__SANITIZE_ADDRESS__)
  const int limit_kib = 0;
#else
  const int limit_kib = 2500000;
#endif
  {
    g_auto (CliRun) control = { 0 };
    g_auto (CliRun) convert = { 0 };
    g_auto (CliRun) eval = { 0 };

    run_cli_bounded (&control, limit_kib, "eval", "--model", model, "--data", data, NULL);
    g_assert_cmpint (control.status, ==, 0);
    run_cli_bounded (&convert, limit_kib, "convert", "--model", huge, "--out", converted,
                     "--f16", NULL);
    run_cli_bounded (&eval, limit_kib, "eval", "--model", huge, "--data", data, NULL);
    for (CliRun *r = &convert; r != NULL; r = r == &convert ? &eval : NULL)
      {
        g_test_message ("status %d: %s", r->status, r->err);
        g_assert_cmpint (r->status, ==, 1);
        g_assert_nonnull (strstr (r->err, huge));
        g_assert_nonnull (strstr (r->err, "has shape"));
      }
    g_assert_false (g_file_test (converted, G_FILE_TEST_EXISTS));
  }

  /* Depth 2 under depth-1 metadata. */
  {
    g_autoptr (VgModel) deep = NULL;
    g_autofree char *deep_path = g_build_filename (tmp, "deep.safetensors", NULL);
    VgConfig cfg;

    g_assert_true (vg_config_from_name (&cfg, "seed", NULL));
    g_assert_true (vg_config_parse (&cfg, SMALL_SPEC " depths=2,2,2,2", &error));
    deep = vg_model_new (&cfg, vg_backend_cpu (), &error);
    g_assert_no_error (error);
    g_assert_true (vg_model_save (deep, deep_path, (const char *const *) meta, &error));
    g_assert_no_error (error);
    vg_test_rewrite_safetensors (deep_path, shallow, NULL, "visage.config", SMALL_SPEC);
    expect_bounded_failure ("unused tensors", "encoder.stages.0.blocks.1.", "eval",
                            "--model", shallow, "--data", data);
  }

  /* A model whose weights are all NaN: refused, and predict writes no mask. */
  {
    g_autoptr (VgModel) bad = small_model (42);

    for (size_t i = 0; i < vg_model_num_params (bad); i++)
      vg_model_params (bad)[i] = NAN;
    g_assert_true (vg_model_save (bad, nan, (const char *const *) meta, &error));
    g_assert_no_error (error);
    expect_bounded_failure ("NaN weights (eval)", "NaN", "eval", "--model", nan, "--data",
                            data);
    expect_bounded_failure ("NaN weights (predict)", nan, "predict", data, "--model", nan,
                            "--out", out);
    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  }
  vg_test_rm_rf (tmp);
}

/* eval --json or --csv into a folder that does not exist, or onto a folder, used to fail
 * only after the whole evaluation: now before the model is even opened. */
VG_TEST ("/cli-inputs/outputs-checked-first", test_outputs_checked_first)
{
  g_auto (GStrv) names = val_names (1);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *model = NULL, *data = NULL;
  g_autofree char *missing = g_build_filename (tmp, "no-such-folder", "e.json", NULL);
  g_autofree char *folder = NULL;

  if (names == NULL)
    return;
  model = write_model (tmp, 64);
  data = vg_test_link_val_split (tmp, "data", names);
  folder = make_subdir (tmp, "a-folder.csv");
  for (int k = 0; k < 2; k++)
    {
      g_auto (CliRun) run = { 0 };
      const char *option = k == 0 ? "--json" : "--csv";
      const char *path = k == 0 ? missing : folder;

      run_cli_bounded (&run, 0, "eval", "--model", model, "--data", data, option, path, NULL);
      g_test_message ("%s %s: status %d: %s", option, path, run.status, run.err);
      g_assert_cmpint (run.status, ==, 1);
      g_assert_nonnull (strstr (run.err, path));
      g_assert_null (strstr (run.err, "model:"));
      g_assert_null (strstr (run.err, "data:"));
    }
  vg_test_rm_rf (tmp);
}

/* One SIGTERM stops the CLI even when it is blocked where the cancellation is never seen:
 * here writing warnings to a stderr pipe that nobody reads (`timeout` without -k used to
 * leave such a process running for ever). Exit status 128 + SIGTERM, within the grace
 * period. */
VG_TEST ("/cli-inputs/terminate-blocked", test_terminate_blocked)
{
  g_auto (GStrv) names = val_names (1);
  g_autofree char *tmp = tmp_dir_new ();
  g_autofree char *data = NULL, *masks = NULL;
  g_autoptr (GError) error = NULL;
  const char *argv[] = { g_getenv ("VISAGE_CLI"), "eval", "--predictions", NULL, "--data",
                         NULL, "--skip-bad", NULL };
  gint64 start, deadline;
  GPid pid;
  int err_fd, status = 0, pending = 0;
  pid_t done = 0;

  if (names == NULL)
    return;
  data = vg_test_link_val_split (tmp, "data", names);
  masks = g_build_filename (data, "masks", NULL);
  /* 2000 folders named like images: as many warnings, far more than a pipe holds. */
  for (int i = 0; i < 2000; i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/images/folder-%04d.jpg", data, i);
      g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
    }
  argv[3] = masks;
  argv[5] = data;
  g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                            &pid, NULL, NULL, &err_fd, &error);
  g_assert_no_error (error);
  /* Wait until the pipe is full (64 KiB that stop growing: the CLI is then blocked
   * writing), reading nothing. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      int available = 0;

      g_assert_cmpint (ioctl (err_fd, FIONREAD, &available), ==, 0);
      if (available >= 32768 && available == pending)
        break;
      pending = available;
      g_usleep (300 * 1000);
    }
  g_assert_cmpint (pending, >=, 32768);
  g_assert_cmpint (waitpid (pid, &status, WNOHANG), ==, 0);

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  start = g_get_monotonic_time ();
  while ((done = waitpid (pid, &status, WNOHANG)) == 0
         && g_get_monotonic_time () - start < 30 * G_USEC_PER_SEC)
    g_usleep (50 * 1000);
  if (done == 0)
    {
      kill (pid, SIGKILL);
      waitpid (pid, &status, 0);
      g_error ("visage-cli eval was still running 30 s after one SIGTERM");
    }
  g_test_message ("stopped %.1f s after SIGTERM", (g_get_monotonic_time () - start) / 1e6);
  g_spawn_close_pid (pid);
  close (err_fd);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 128 + SIGTERM);
  vg_test_rm_rf (tmp);
}

VG_TEST_MAIN ()
