/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A training run stopped at each point between its epoch-end writes (best checkpoint, last
 * checkpoint, log row, epoch notice), as a kill would stop it, then resumed: log.csv and
 * the checkpoint agree, the plot a workbench draws (the log read at resume, then the
 * notices) holds every epoch once with the logged values, no epoch is announced twice,
 * no temporary file is left, and the weights end bit-identical to a run never stopped.
 * Also: the service delivers a run's news in the order they happened, however many of
 * them coalesce into one delivery. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "test-fixtures.h"
#include "test-safetensors-util.h"
#include "vg-safetensors.h"
#include "vg-service.h"
#include "vg-train.h"
#include "test-register.h"

#define EPOCHS 3

static const char *const split_names[] = { "0", "1", "2", "3", "5", "6", "7", "8", NULL };
static const char *const write_names[VG_TRAIN_N_WRITES] = { "best", "last", "log", "epoch" };

static char *scratch;
static char *split_dir;   /* links to 8 val images; NULL without ../shared */
static char *reference;   /* the run never stopped */
static GArray *points;    /* of Point: every write of the reference run, in order */

typedef struct {
  int what;               /* VgTrainWrite */
  int epoch;
} Point;

typedef struct {
  Point at;               /* where the run stops; epoch 0: never */
  gboolean fired;
} StopHook;

static gboolean
record_hook (int what, int epoch, gpointer data)
{
  Point p = { what, epoch };

  g_array_append_val ((GArray *) data, p);
  return TRUE;
}

static gboolean
stop_hook (int what, int epoch, gpointer data)
{
  StopHook *s = data;

  if (what == s->at.what && epoch == s->at.epoch)
    {
      s->fired = TRUE;
      return FALSE;
    }
  return TRUE;
}

static void
tiny_options (VgTrainOptions *o, const char *out)
{
  g_autoptr (GError) error = NULL;

  vg_train_options_init (o);
  g_assert_true (vg_config_parse (&o->config, "widths=8,16,24,32 depths=1,1,1,1 "
                                  "heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=16 head=bilinear",
                                  &error));
  g_assert_no_error (error);
  o->train_dir = g_strdup (split_dir);
  o->val_dir = g_strdup (split_dir);
  o->out_dir = g_strdup (out);
  o->epochs = EPOCHS;
  o->batch = 4;
  o->resolution = 64;
  o->workers = 1;
  o->threads = 2;
  o->checkpoint_minutes = 0.0;
  o->select = VG_SELECT_MIOU;
}

/* ---- running through the service, as the workbench does -------------------------------- */

typedef struct {
  GArray *epochs;         /* of VgServiceEpoch, as announced */
  int step_epoch;         /* the newest step's epoch and step */
  int step;
  int last_epoch;         /* the newest epoch announced */
} Watch;

static void
on_step (VgService *service, const VgTrainStep *step, gpointer data)
{
  Watch *w = data;

  /* never back in time, never a step of an epoch already announced as finished */
  g_assert_cmpint (step->epoch, >, w->last_epoch);
  g_assert_true (step->epoch > w->step_epoch
                 || (step->epoch == w->step_epoch && step->step >= w->step));
  w->step_epoch = step->epoch;
  w->step = step->step;
}

static void
on_epoch (VgService *service, const VgServiceEpoch *record, gpointer data)
{
  Watch *w = data;

  g_assert_cmpint (record->epoch.epoch, >=, w->step_epoch);
  w->last_epoch = record->epoch.epoch;
  g_array_append_vals (w->epochs, record, 1);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* Train with o through a service; returns whether the run succeeded. */
static gboolean
service_train (const VgTrainOptions *o, Watch *w, GError **error)
{
  g_autofree char *cache = g_build_filename (scratch, "cache", NULL);
  g_autoptr (VgService) service = vg_service_new (cache);
  g_autoptr (GAsyncResult) result = NULL;
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;

  g_signal_connect (service, "train-step", G_CALLBACK (on_step), w);
  g_signal_connect (service, "train-epoch", G_CALLBACK (on_epoch), w);
  vg_service_train_async (service, o, NULL, store_result, &result);
  while (result == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (result);
  return vg_service_train_finish (service, result, NULL, error);
}

/* ---- the record on disk ------------------------------------------------------------------ */

/* The rows of a log (no header), each cut to its first 7 columns: the seconds and images/s
 * of an epoch differ between two runs of it. */
static GPtrArray *
log_rows (const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GPtrArray *rows = g_ptr_array_new_with_free_func (g_free);

  g_assert_true (g_str_has_prefix (lines[0], "epoch,phase,optimizer,lr,train_loss,"));
  for (int i = 1; lines[i] != NULL; i++)
    {
      g_auto (GStrv) cells = NULL;

      if (lines[i][0] == '\0')
        continue;
      cells = g_strsplit (lines[i], ",", -1);
      g_assert_cmpuint (g_strv_length (cells), ==, 10);
      g_assert_cmpint (atoi (cells[0]), ==, (int) rows->len + 1);
      g_ptr_array_add (rows, g_strdup_printf ("%s,%s,%s,%s,%s,%s,%s", cells[0], cells[1],
                                              cells[2], cells[3], cells[4], cells[5],
                                              cells[6]));
    }
  return rows;
}

static char *
read_file (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

/* The row an announced epoch should have in the log (its first 7 columns). */
static char *
notice_row (const VgServiceEpoch *e)
{
  char b[4][G_ASCII_DTOSTR_BUF_SIZE];

  return g_strdup_printf ("%d,%d,%s,%s,%s,%s,%s", e->epoch.epoch, e->epoch.phase,
                          e->epoch.optimizer, g_ascii_formatd (b[0], sizeof b[0], "%.6g",
                                                               e->epoch.lr),
                          g_ascii_formatd (b[1], sizeof b[1], "%.6f", e->epoch.train_loss),
                          g_ascii_formatd (b[2], sizeof b[2], "%.6f", e->epoch.val_loss),
                          g_ascii_formatd (b[3], sizeof b[3], "%.6f", e->epoch.val_miou));
}

static void
assert_no_temporaries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    if (!g_str_equal (name, "last.safetensors") && !g_str_equal (name, "best.safetensors")
        && !g_str_equal (name, "log.csv"))
      g_error ("%s holds %s", dir, name);
}

/* ---- the tests --------------------------------------------------------------------------- */

/* The run never stopped, through vg_train_run with a hook that records every write. */
static void
run_reference (void)
{
  g_autoptr (GError) error = NULL;
  VgTrainOptions o;

  reference = g_build_filename (scratch, "reference", NULL);
  points = g_array_new (FALSE, FALSE, sizeof (Point));
  tiny_options (&o, reference);
  o.write_hook = record_hook;
  o.write_hook_data = points;
  g_assert_true (vg_train_run (&o, NULL, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  vg_train_options_clear (&o);
  /* last, log and the notice for every epoch; best at least after the first */
  g_assert_cmpuint (points->len, >=, 3 * EPOCHS + 1);
}

static void
test_stop_at (gconstpointer data)
{
  const Point *at = data;
  g_autofree char *run = NULL, *last = NULL, *record = NULL, *csv = NULL, *ref_log = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) plot = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) rows = NULL, ref_rows = NULL;
  g_autoptr (GHashTable) announced = g_hash_table_new (NULL, NULL);
  Watch first = { g_array_new (FALSE, FALSE, sizeof (VgServiceEpoch)) };
  Watch second = { g_array_new (FALSE, FALSE, sizeof (VgServiceEpoch)) };
  StopHook hook = { *at, FALSE };
  VgTrainOptions o;

  if (split_dir == NULL)
    {
      g_test_skip ("../shared is not present");
      return;
    }
  run = g_strdup_printf ("%s/run-%s-%d", scratch, write_names[at->what], at->epoch);
  last = g_build_filename (run, "last.safetensors", NULL);

  /* Stopped there, as by a kill: nothing after it is written. */
  tiny_options (&o, run);
  o.write_hook = stop_hook;
  o.write_hook_data = &hook;
  vg_test_assert_fails (service_train (&o, &first, &error), error, VG_TRAIN_ERROR,
                        VG_TRAIN_ERROR_INTERRUPTED, NULL);
  g_assert_true (hook.fired);
  vg_train_options_clear (&o);

  /* Resumed as the workbench resumes: the plot starts from the log the checkpoint holds,
   * then takes the notices (a redone epoch replaces the points from it on). Killed before
   * the first checkpoint, there is nothing to resume: the run starts again. */
  if (g_file_test (last, G_FILE_TEST_EXISTS))
    {
      g_autofree char *text = vg_train_read_log (run, &error);
      g_autoptr (GPtrArray) restored = NULL;

      g_assert_no_error (error);
      restored = log_rows (text);
      for (guint i = 0; i < restored->len; i++)
        g_ptr_array_add (plot, g_strdup (restored->pdata[i]));
      g_assert_true (vg_train_options_load (&o, run, &error));
      g_assert_no_error (error);
    }
  else
    tiny_options (&o, run);
  g_assert_true (service_train (&o, &second, &error));
  g_assert_no_error (error);
  vg_train_options_clear (&o);
  for (guint i = 0; i < second.epochs->len; i++)
    {
      VgServiceEpoch *e = &g_array_index (second.epochs, VgServiceEpoch, i);

      g_ptr_array_set_size (plot, MIN (plot->len, (guint) e->epoch.epoch - 1));
      g_ptr_array_add (plot, notice_row (e));
    }

  /* log.csv is the checkpoint's log, and the reference run's (timings aside). */
  csv = read_file (run, "log.csv");
  record = vg_train_read_log (run, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (csv, ==, record);
  rows = log_rows (csv);
  ref_log = read_file (reference, "log.csv");
  ref_rows = log_rows (ref_log);
  g_assert_cmpuint (rows->len, ==, EPOCHS);
  for (guint i = 0; i < rows->len; i++)
    g_assert_cmpstr (rows->pdata[i], ==, ref_rows->pdata[i]);

  /* The plot: every epoch once, as logged. */
  g_assert_cmpuint (plot->len, ==, rows->len);
  for (guint i = 0; i < rows->len; i++)
    g_assert_cmpstr (plot->pdata[i], ==, rows->pdata[i]);

  /* Each notice as logged, and no epoch announced twice over the two runs. */
  for (int r = 0; r < 2; r++)
    {
      GArray *epochs = r == 0 ? first.epochs : second.epochs;

      for (guint i = 0; i < epochs->len; i++)
        {
          VgServiceEpoch *e = &g_array_index (epochs, VgServiceEpoch, i);
          g_autofree char *row = notice_row (e);

          g_assert_cmpstr (row, ==, rows->pdata[e->epoch.epoch - 1]);
          g_assert_false (g_hash_table_contains (announced, GINT_TO_POINTER (e->epoch.epoch)));
          g_hash_table_add (announced, GINT_TO_POINTER (e->epoch.epoch));
        }
    }
  g_test_message ("stopped after %s of epoch %d: %u + %u notices", write_names[at->what],
                  at->epoch, first.epochs->len, second.epochs->len);

  /* The checkpoints: the same weights as the run never stopped, and nothing else left. */
  {
    g_autofree char *ref_last = g_build_filename (reference, "last.safetensors", NULL);
    g_autofree char *ref_best = g_build_filename (reference, "best.safetensors", NULL);
    g_autofree char *best = g_build_filename (run, "best.safetensors", NULL);
    g_autoptr (VgSafetensors) a = vg_safetensors_open (ref_best, &error);
    g_autoptr (VgSafetensors) b = vg_safetensors_open (best, &error);

    g_assert_no_error (error);
    vg_test_assert_same_tensors (ref_last, last);
    vg_test_assert_same_tensors (ref_best, best);
    g_assert_cmpstr (vg_safetensors_metadata (a, "visage.epoch"), ==,
                     vg_safetensors_metadata (b, "visage.epoch"));
    g_assert_cmpstr (vg_safetensors_metadata (a, "visage.val_miou"), ==,
                     vg_safetensors_metadata (b, "visage.val_miou"));
  }
  assert_no_temporaries (run);
  g_array_unref (first.epochs);
  g_array_unref (second.epochs);
}

/* Held back until the run is over, all of its news coalesces into one delivery: the last
 * step (of the last epoch) must come after the records of the epochs before it and before
 * its own epoch's record. */
static gboolean
flag_hook (int what, int epoch, gpointer data)
{
  if (what == VG_TRAIN_WROTE_EPOCH && epoch == EPOCHS)
    g_atomic_int_set ((gint *) data, 1);
  return TRUE;
}

VG_TEST ("/train-interrupt/coalesced-order", test_coalesced_order)
{
  g_autofree char *run = NULL, *cache = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  Watch w = { g_array_new (FALSE, FALSE, sizeof (VgServiceEpoch)) };
  gint done = 0;
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  VgTrainOptions o;

  if (split_dir == NULL)
    {
      g_test_skip ("../shared is not present");
      return;
    }
  run = g_build_filename (scratch, "coalesced", NULL);
  cache = g_build_filename (scratch, "cache", NULL);
  service = vg_service_new (cache);
  g_signal_connect (service, "train-step", G_CALLBACK (on_step), &w);
  g_signal_connect (service, "train-epoch", G_CALLBACK (on_epoch), &w);
  tiny_options (&o, run);
  o.write_hook = flag_hook;
  o.write_hook_data = &done;
  vg_service_train_async (service, &o, NULL, store_result, &result);
  vg_train_options_clear (&o);
  /* no main-loop iteration until the last epoch is written */
  while (!g_atomic_int_get (&done) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_true (g_atomic_int_get (&done));
  while (result == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (result);
  g_assert_true (vg_service_train_finish (service, result, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (w.epochs->len, ==, EPOCHS);
  g_assert_cmpint (w.step_epoch, ==, EPOCHS);
  g_assert_cmpint (w.last_epoch, ==, EPOCHS);
  g_array_unref (w.epochs);
}

int
main (int argc, char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  scratch = vg_test_scratch_with_split ("visage-interrupt-XXXXXX", split_names, &split_dir);
  vg_test_add_registered ();
  if (split_dir != NULL)
    {
      run_reference ();
      for (guint i = 0; i < points->len; i++)
        {
          Point *p = &g_array_index (points, Point, i);
          g_autofree char *name = g_strdup_printf ("/train-interrupt/after-%s-%d",
                                                   write_names[p->what], p->epoch);

          g_test_add_data_func (name, p, test_stop_at);
        }
    }
  status = g_test_run ();

  vg_test_scratch_clear (&scratch, &split_dir);
  g_free (reference);
  if (points != NULL)
    g_array_unref (points);
  return status;
}
