/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The engine service: jobs run on its worker while the main loop runs, results and
 * progress arrive on the main thread in order and throttled, cancellation drops a job's
 * news, and the prediction cache (memory, then disk) serves a second request. */
#include "config.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "test-fixtures.h"
#include "vg-service.h"

typedef struct {
  char *dir;          /* scratch folder of the test */
  char *cache_dir;
  char *model_path;   /* tiny model, seed 1 */
  char *split_dir;    /* symbolic links to 8 val images */
} Fixture;

static const char *const split_names[] = { "0", "1", "2", "3", "5", "6", "7", "8", NULL };

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->dir = g_dir_make_tmp ("visage-service-XXXXXX", &error);
  g_assert_no_error (error);
  f->cache_dir = g_build_filename (f->dir, "cache", NULL);
  f->model_path = vg_test_write_tiny_model (f->dir, "tiny.safetensors", 1, 64);
  f->split_dir = g_build_filename (f->dir, "split", NULL);
  if (!vg_test_link_split_names (f->split_dir, "val", split_names))
    g_clear_pointer (&f->split_dir, g_free);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  vg_test_rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->cache_dir);
  g_free (f->model_path);
  g_free (f->split_dir);
}

/* ---- running the main loop until an async call finishes --------------------------------- */

static void
store_result (GObject *source, GAsyncResult *result, gpointer data)
{
  GAsyncResult **out = data;

  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  *out = g_object_ref (result);
}

static GAsyncResult *
wait_for (GAsyncResult **slot)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (*slot == NULL && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_nonnull (*slot);
  return *slot;
}

static void
load_model (VgService *service, const char *path)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  vg_service_load_model_async (service, path, NULL, store_result, &result);
  g_assert_true (vg_service_load_model_finish (service, wait_for (&result), &error));
  g_assert_no_error (error);
  g_assert_cmpstr (vg_service_get_model_path (service), ==, path);
}

static VgPrediction *
predict (VgService *service, const char *image, const char *mask, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  vg_service_predict_async (service, image, mask, NULL, store_result, &result);
  return vg_service_predict_finish (service, wait_for (&result), error);
}

static VgSplit *
open_split (VgService *service, const char *dir)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  VgSplit *split;

  vg_service_open_split_async (service, dir, NULL, store_result, &result);
  split = vg_service_open_split_finish (service, wait_for (&result), &error);
  g_assert_no_error (error);
  return split;
}

/* The labels the engine computes directly, without the service. */
static guint8 *
predict_directly (const char *model_path, const VgImage *image)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  guint8 *labels = g_malloc ((gsize) image->height * image->width);
  VgPreprocess pre;

  model = vg_model_open (model_path, vg_backend_cpu (), &pre, &error);
  g_assert_no_error (error);
  predictor = vg_predictor_new (model, &pre, 1, &error);
  g_assert_no_error (error);
  g_assert_true (vg_predict_image (predictor, image->data, image->height, image->width,
                                   labels, NULL, &error));
  return labels;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void
test_predict_and_cache (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autoptr (VgService) fresh = NULL;
  g_autoptr (VgPrediction) first = NULL, second = NULL, from_disk = NULL;
  g_autofree char *image = NULL, *mask = NULL;
  g_autofree guint8 *expected = NULL;
  g_auto (VgEvalResult) metrics = { 0 };
  VgImage decoded = { 0 };
  size_t n;

  if (f->split_dir == NULL)
    return;
  image = g_build_filename (f->split_dir, "images", "3.jpg", NULL);
  mask = g_build_filename (f->split_dir, "masks", "3.png", NULL);

  /* Without a model: the image and its mask, no labels. */
  first = predict (service, image, mask, &error);
  g_assert_no_error (error);
  g_assert_cmpint (first->height, ==, 512);
  g_assert_cmpint (first->width, ==, 512);
  g_assert_nonnull (first->rgb);
  g_assert_nonnull (first->truth);
  g_assert_null (first->labels);
  g_assert_false (first->has_result);
  g_clear_pointer (&first, vg_prediction_free);

  load_model (service, f->model_path);
  first = predict (service, image, mask, &error);
  g_assert_no_error (error);
  g_assert_false (first->cached);
  g_assert_true (first->has_result);
  n = (size_t) first->height * first->width;

  /* The pixels are the file's and the labels the engine's own prediction, bit for bit. */
  g_assert_true (vg_image_load (&decoded, image, &error));
  g_assert_cmpmem (first->rgb, n * 3, decoded.data, n * 3);
  expected = predict_directly (f->model_path, &decoded);
  g_assert_cmpmem (first->labels, n, expected, n);
  vg_image_clear (&decoded);
  g_assert_true (vg_mask_load (&decoded, mask, &error));
  g_assert_cmpmem (first->truth, n, decoded.data, n);
  vg_eval_result_init (&metrics, 1);
  vg_eval_result_add (&metrics, 0, decoded.data, expected, n);
  g_assert_cmpfloat (first->result.miou, ==, metrics.image_miou[0]);
  g_assert_true (memcmp (&first->result.confusion, &metrics.confusion,
                         sizeof metrics.confusion) == 0);
  g_assert_true (first->result.truth_classes & (1u << VG_CLASS_SKIN));
  vg_image_clear (&decoded);

  /* The second request is served from memory, the same labels. */
  second = predict (service, image, mask, &error);
  g_assert_no_error (error);
  g_assert_true (second->cached);
  g_assert_cmpmem (second->labels, n, expected, n);

  /* One file on disk, which a fresh service (empty memory) reads back. */
  g_assert_cmpint (vg_test_count_files (f->cache_dir, NULL), ==, 1);
  fresh = vg_service_new (f->cache_dir);
  vg_service_set_memory_cache_limit (fresh, 0);
  load_model (fresh, f->model_path);
  from_disk = predict (fresh, image, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (from_disk->cached);
  g_assert_null (from_disk->truth);
  g_assert_false (from_disk->has_result);
  g_assert_cmpmem (from_disk->labels, n, expected, n);
}

static void
test_cache_keys (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autofree char *image = g_build_filename (f->dir, "synthetic.png", NULL);
  g_autofree char *other_model = NULL;
  guint8 rgb[40 * 24 * 3];
  VgPrediction *p;

  /* A synthetic image (no data set pixels) that the test can rewrite. */
  for (gsize i = 0; i < sizeof rgb; i++)
    rgb[i] = (guint8) (i * 7);
  g_assert_true (vg_image_save_png (image, rgb, 24, 40, &error));
  load_model (service, f->model_path);

  p = predict (service, image, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (p->cached);
  g_assert_cmpint (p->height, ==, 24);
  g_assert_cmpint (p->width, ==, 40);
  vg_prediction_free (p);
  p = predict (service, image, NULL, &error);
  g_assert_true (p->cached);
  vg_prediction_free (p);

  /* A rewritten image (another size, so another key even within the clock's resolution)
   * is predicted again. */
  g_assert_true (vg_image_save_png (image, rgb, 20, 40, &error));
  p = predict (service, image, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (p->cached);
  g_assert_cmpint (p->height, ==, 20);
  vg_prediction_free (p);

  /* Another model file: another key. */
  other_model = vg_test_write_tiny_model (f->dir, "other.safetensors", 2, 64);
  load_model (service, other_model);
  p = predict (service, image, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (p->cached);
  vg_prediction_free (p);
  g_assert_cmpint (vg_test_count_files (f->cache_dir, NULL), ==, 3);
}

/* ---- holding the worker at a known point ----------------------------------------------- */

/* A gate on the worker thread for the predictions of one image: the predict job logs a
 * debug line starting with the image's path after predicting, before it hands the job
 * back, and while gate_log handles that domain's debug lines the line waits there until
 * the test lets it through. An evaluation serves the predictions queued meanwhile between
 * two of its images, so one of the gate's image holds it there: the images before it
 * reported, nothing finished. */
typedef struct {
  const char *image;
  GMutex lock;
  GCond cond;
  int arrived;        /* predictions that reached the gate */
  int let_through;    /* how many of them may go on */
} Gate;

static void
gate_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  Gate *gate = data;
  int ticket;

  if (!g_str_has_prefix (message, gate->image))
    return;
  g_mutex_lock (&gate->lock);
  ticket = gate->arrived++;
  g_cond_broadcast (&gate->cond);
  while (ticket >= gate->let_through)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
}

/* Wait, without running the main loop, until n predictions have reached the gate. */
static void
gate_wait (Gate *gate, int n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  int arrived;

  g_mutex_lock (&gate->lock);
  while (gate->arrived < n && g_cond_wait_until (&gate->cond, &gate->lock, deadline))
    ;
  arrived = gate->arrived;
  g_mutex_unlock (&gate->lock);
  g_assert_cmpint (arrived, >=, n);
}

static void
gate_let_through (Gate *gate, int n)
{
  g_mutex_lock (&gate->lock);
  gate->let_through = n;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

/* Predictions in the disk cache, not counting a write's temporary file. The evaluation
 * stores image i's prediction before it reports i + 1 images done, and reports i images
 * done before it stores image i: with m of its images stored, m - 1 are reported. */
static int
count_stored (const char *dir)
{
  return vg_test_count_files (dir, ".png");
}

/* Wait, without running the main loop, until the disk cache holds n predictions. */
static void
wait_stored (const char *dir, int n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (count_stored (dir) < n && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (count_stored (dir), >=, n);
}

/* What test_evaluate's first progress handler does, and what it saw. */
typedef struct {
  VgService *service;
  Gate *gate;
  const char *cache_dir;
  int stored_before;       /* predictions in the cache before the evaluation's */
  GAsyncResult *result;    /* of the prediction at the gate */
  int gate_done;           /* images reported when the evaluation reached the gate */
  gint64 first_end;        /* when the first delivery's handler returned */
  gint64 second;           /* when the second delivery came */
} Hold;

/* In the first delivery's handler: hold the main loop until the worker has reported an
 * image after this delivery took its news, then until it waits at the gate before a
 * later image. News are pending then, and nothing can finish before the gate opens. */
static void
hold_first_delivery (Hold *h)
{
  /* This delivery brought at most `stored` images; with stored + 2 in the cache, stored + 1
   * are reported: one more, after it. */
  int stored = count_stored (h->cache_dir) - h->stored_before;

  wait_stored (h->cache_dir, h->stored_before + stored + 2);
  vg_service_predict_async (h->service, h->gate->image, NULL, NULL, store_result, &h->result);
  gate_wait (h->gate, 2);
  h->gate_done = count_stored (h->cache_dir) - h->stored_before;
  h->first_end = g_get_monotonic_time ();
}

typedef struct {
  GThread *main_thread;
  int n_progress;
  int last_done;
  int total;
  int n_results;
  int n_result_signals;
  double miou[G_N_ELEMENTS (split_names)];
  GCancellable *cancel_at_first; /* cancelled by the first progress handler */
  int progress_after_cancel;
  Hold *hold;                    /* held by the first progress handler (test_evaluate) */
} Watch;

static void
on_progress (VgService *service, int job, int done, int total, gpointer data)
{
  Watch *w = data;

  g_assert_true (g_thread_self () == w->main_thread);
  g_assert_cmpint (job, ==, VG_SERVICE_JOB_EVALUATE);
  if (w->cancel_at_first != NULL && g_cancellable_is_cancelled (w->cancel_at_first))
    w->progress_after_cancel++;
  /* In order: done never goes back, and results were delivered up to done. */
  g_assert_cmpint (done, >=, w->last_done);
  g_assert_cmpint (w->n_results, ==, done);
  if (w->hold != NULL && w->n_progress == 1)
    w->hold->second = g_get_monotonic_time ();
  w->last_done = done;
  w->total = total;
  w->n_progress++;
  if (w->cancel_at_first != NULL)
    g_cancellable_cancel (w->cancel_at_first);
  if (w->hold != NULL && w->n_progress == 1)
    hold_first_delivery (w->hold);
}

static void
on_image_results (VgService *service, const VgImageResult *results, guint n, gpointer data)
{
  Watch *w = data;

  g_assert_true (g_thread_self () == w->main_thread);
  w->n_result_signals++;
  for (guint i = 0; i < n; i++)
    {
      /* Every image once, in order. */
      g_assert_cmpint (results[i].index, ==, w->n_results);
      w->miou[w->n_results++] = results[i].miou;
    }
}

static void
watch_init (Watch *w)
{
  memset (w, 0, sizeof *w);
  w->main_thread = g_thread_self ();
}

/* Run the main loop until w has seen n progress signals. */
static void
wait_progress (Watch *w, int n)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (w->n_progress < n && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (w->n_progress, >=, n);
}

static void
test_evaluate (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgEvaluation) evaluation = NULL, again = NULL;
  g_autoptr (GAsyncResult) result = NULL, held = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autoptr (VgPredictor) predictor = NULL;
  g_auto (VgEvalResult) direct = { 0 };
  g_autofree char *model_path = NULL, *gate_image = NULL;
  VgPreprocess pre;
  Gate gate = { 0 };
  Hold hold = { 0 };
  Watch w;
  guint log_handler;
  int n;

  if (f->split_dir == NULL)
    return;
  split = open_split (service, f->split_dir);
  n = split->n_samples;
  g_assert_cmpint (n, ==, G_N_ELEMENTS (split_names) - 1);
  g_assert_cmpstr (split->samples[7].name, ==, "8");

  /* No model yet: a plain error. */
  vg_service_evaluate_async (service, split, NULL, store_result, &result);
  g_assert_null (vg_service_evaluate_finish (service, wait_for (&result), &error));
  g_assert_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MODEL);
  g_clear_error (&error);
  g_clear_object (&result);

  /* The deliveries, with the worker held at the gate and the main loop held by the test
   * at known points, so that what each delivery brings is known exactly:
   *  1. a prediction at the gate keeps the worker while the evaluation queues behind it;
   *     let through, it finishes and the evaluation starts;
   *  2. until 3 images are stored (2 reported) the main loop does not run: the news
   *     coalesce, and the first delivery (at once: a job finished) brings them all, in
   *     one image-results and one progress signal;
   *  3. its handler holds the main loop until the worker has reported another image and
   *     waits at the gate again: news are pending and nothing can finish, so the second
   *     delivery, which brings the news up to the gate, is a throttled one: not sooner
   *     than 100 ms after the first ended.
   * A larger input than the other tests' model: several milliseconds an image. */
  model_path = vg_test_write_tiny_model (f->dir, "slower.safetensors", 3, 384);
  load_model (service, model_path);
  gate_image = g_build_filename (f->dir, "gate.jpg", NULL);
  g_assert_cmpint (symlink (split->samples[0].image_path, gate_image), ==, 0);
  gate.image = gate_image;
  log_handler = g_log_set_handler ("visage-service", G_LOG_LEVEL_DEBUG, gate_log, &gate);
  watch_init (&w);
  hold.service = service;
  hold.gate = &gate;
  hold.cache_dir = f->cache_dir;
  w.hold = &hold;
  g_signal_connect (service, "progress", G_CALLBACK (on_progress), &w);
  g_signal_connect (service, "image-results", G_CALLBACK (on_image_results), &w);
  vg_service_predict_async (service, gate_image, NULL, NULL, store_result, &held);
  vg_service_evaluate_async (service, split, NULL, store_result, &result);
  g_assert_true (vg_service_get_busy (service));
  gate_wait (&gate, 1);
  hold.stored_before = count_stored (f->cache_dir);
  gate_let_through (&gate, 1);
  wait_stored (f->cache_dir, hold.stored_before + 3);

  wait_progress (&w, 1);
  g_assert_cmpint (w.n_progress, ==, 1);
  g_assert_cmpint (w.n_result_signals, ==, 1);
  g_assert_cmpint (w.n_results, >=, 2);
  g_assert_nonnull (held);
  g_assert_cmpint (hold.gate_done, >, w.last_done);
  g_assert_cmpint (hold.gate_done, <, n);

  wait_progress (&w, 2);
  g_assert_cmpint (w.n_progress, ==, 2);
  g_assert_cmpint (w.n_result_signals, ==, 2);
  g_assert_cmpint (w.n_results, ==, hold.gate_done);
  g_assert_null (hold.result);
  g_assert_null (result);
  g_test_message ("second delivery %.3f s after the first, %d images reported at the gate",
                  (hold.second - hold.first_end) / 1e6, hold.gate_done);
  g_assert_cmpint (hold.second - hold.first_end, >=, 100 * G_TIME_SPAN_MILLISECOND);

  gate_let_through (&gate, G_MAXINT);
  evaluation = vg_service_evaluate_finish (service, wait_for (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  wait_for (&hold.result);
  g_clear_object (&hold.result);
  g_log_remove_handler ("visage-service", log_handler);
  g_assert_false (vg_service_get_busy (service));

  /* Progress reached the end before the job finished, with every image's result. */
  g_assert_cmpint (w.last_done, ==, n);
  g_assert_cmpint (w.total, ==, n);
  g_assert_cmpint (w.n_results, ==, n);
  g_assert_cmpint (evaluation->n_cached, ==, 0);
  g_assert_cmpint (evaluation->metrics.n_images, ==, n);

  /* The same numbers as vg_evaluate (visage-cli eval) on the same split, exactly. */
  model = vg_model_open (model_path, vg_backend_cpu (), &pre, &error);
  g_assert_no_error (error);
  predictor = vg_predictor_new (model, &pre, 1, &error);
  g_assert_no_error (error);
  g_assert_true (vg_evaluate (predictor, split, NULL, 1, &direct, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (&evaluation->metrics.confusion, &direct.confusion,
                         sizeof direct.confusion) == 0);
  for (int i = 0; i < n; i++)
    {
      VgConfusion sum;

      g_assert_cmpfloat (evaluation->metrics.image_miou[i], ==, direct.image_miou[i]);
      g_assert_cmpfloat (evaluation->images[i].miou, ==, direct.image_miou[i]);
      g_assert_cmpfloat (w.miou[i], ==, direct.image_miou[i]);
      g_assert_cmpint (evaluation->images[i].index, ==, i);
      vg_confusion_reset (&sum);
      vg_confusion_merge (&sum, &evaluation->images[i].confusion);
      g_assert_cmpuint (vg_confusion_truth_pixels (&sum, VG_CLASS_BACKGROUND)
                        + vg_confusion_truth_pixels (&sum, VG_CLASS_SKIN), >, 0);
    }
  for (int c = 0; c < VG_NUM_CLASSES; c++)
    {
      g_assert_cmpint (evaluation->metrics.class_images[c], ==, direct.class_images[c]);
      g_assert_cmpint (evaluation->metrics.class_missed[c], ==, direct.class_missed[c]);
    }

  /* A second pass predicts nothing: all from the cache, the same numbers. */
  watch_init (&w);
  vg_service_evaluate_async (service, split, NULL, store_result, &result);
  again = vg_service_evaluate_finish (service, wait_for (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->n_cached, ==, n);
  g_assert_true (memcmp (&again->metrics.confusion, &direct.confusion,
                         sizeof direct.confusion) == 0);
  g_assert_cmpint (w.n_results, ==, n);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GCancellable) cancelled = g_cancellable_new ();
  g_autoptr (GAsyncResult) result = NULL, queued = NULL;
  g_autofree char *image = NULL;
  Watch w;

  if (f->split_dir == NULL)
    return;
  split = open_split (service, f->split_dir);
  load_model (service, f->model_path);

  /* Cancelled while it runs (from the first progress handler): the job ends with
   * G_IO_ERROR_CANCELLED and no news of it is delivered after the cancellation. */
  watch_init (&w);
  w.cancel_at_first = cancellable;
  g_signal_connect (service, "progress", G_CALLBACK (on_progress), &w);
  g_signal_connect (service, "image-results", G_CALLBACK (on_image_results), &w);
  vg_service_evaluate_async (service, split, cancellable, store_result, &result);
  /* Queued behind the evaluation, and cancelled before it can start. */
  image = g_build_filename (f->split_dir, "images", "0.jpg", NULL);
  vg_service_predict_async (service, image, NULL, cancelled, store_result, &queued);
  g_cancellable_cancel (cancelled);

  g_assert_null (vg_service_evaluate_finish (service, wait_for (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (w.n_progress, ==, 1);
  g_assert_cmpint (w.progress_after_cancel, ==, 0);
  g_assert_null (vg_service_predict_finish (service, wait_for (&queued), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* The service still works afterwards. */
  g_signal_handlers_disconnect_by_data (service, &w);
  {
    g_autoptr (VgPrediction) p = predict (service, image, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (p->labels);
  }
}

static void
record_log_thread (const char *domain, GLogLevelFlags level, const char *message,
                   gpointer data)
{
  g_atomic_pointer_set ((GThread **) data, g_thread_self ());
}

/* The job must run on another thread: the predict job logs its debug line ("PATH: WxH,
 * decoded in ... s") from the thread that runs it. (This test used to block the worker on
 * a FIFO given as the image; a FIFO is refused now, at once and by name, which is the
 * second half of the test: a FIFO must not hang the workbench's worker either.) */
static void
test_runs_off_main_thread (Fixture *f, gconstpointer data)
{
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autofree char *fifo = g_build_filename (f->dir, "image.fifo", NULL);
  g_autofree char *image = NULL;
  GThread *logged_by = NULL;
  guint handler;

  if (f->split_dir == NULL)
    return;
  image = g_build_filename (f->split_dir, "images", "0.jpg", NULL);
  handler = g_log_set_handler ("visage-service", G_LOG_LEVEL_DEBUG, record_log_thread,
                               &logged_by);
  {
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (VgPrediction) prediction = NULL;

    vg_service_predict_async (service, image, NULL, NULL, store_result, &result);
    prediction = vg_service_predict_finish (service, wait_for (&result), &error);
    g_assert_no_error (error);
    g_assert_nonnull (prediction);
  }
  g_log_remove_handler ("visage-service", handler);
  g_assert_nonnull (g_atomic_pointer_get (&logged_by));
  g_assert_true (g_atomic_pointer_get (&logged_by) != g_thread_self ());

  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  {
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;

    vg_service_predict_async (service, fifo, NULL, NULL, store_result, &result);
    g_assert_null (vg_service_predict_finish (service, wait_for (&result), &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
    g_assert_nonnull (strstr (error->message, fifo));
  }
}

/* options NULL: the defaults (palette masks; overlays at alpha 0.5) */
static int
export (VgService *service, const VgSplit *split, int index, VgExportKind kind,
        const char *destination, const VgExportOptions *options, GError **error)
{
  g_autoptr (GAsyncResult) result = NULL;

  vg_service_export_async (service, split, index, kind, destination, options, NULL,
                           store_result, &result);
  return vg_service_export_finish (service, wait_for (&result), error);
}

static void
test_export (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autoptr (VgSplit) split = NULL;
  g_autofree char *masks = g_build_filename (f->dir, "out-masks", NULL);
  g_autofree char *overlays = g_build_filename (f->dir, "out-overlays", NULL);
  g_autofree char *zip = g_build_filename (f->dir, "submission.zip", NULL);
  g_autofree char *trap = g_build_filename (f->dir, "trap", NULL);
  g_autofree char *trap_link = g_build_filename (trap, "2.png", NULL);
  g_autofree gchar *zip_data = NULL;
  gsize zip_size = 0;
  int n;

  if (f->split_dir == NULL)
    return;
  split = open_split (service, f->split_dir);
  n = split->n_samples;

  /* Without a model: an error, nothing written. */
  g_assert_cmpint (export (service, split, -1, VG_EXPORT_MASKS, masks, NULL, &error), ==, -1);
  g_assert_error (error, VG_SERVICE_ERROR, VG_SERVICE_ERROR_NO_MODEL);
  g_clear_error (&error);
  g_assert_false (g_file_test (masks, G_FILE_TEST_EXISTS));
  load_model (service, f->model_path);

  /* Palette masks of the whole split: the predictions, in the data set's format. */
  g_assert_cmpint (export (service, split, -1, VG_EXPORT_MASKS, masks, NULL, &error), ==, n);
  g_assert_no_error (error);
  g_assert_cmpint (vg_test_count_files (masks, NULL), ==, n);
  for (int i = 0; i < n; i++)
    {
      g_autofree char *file_name = g_strdup_printf ("%s.png", split->samples[i].name);
      g_autofree char *path = g_build_filename (masks, file_name, NULL);
      g_autoptr (VgPrediction) p = predict (service, split->samples[i].image_path, NULL, &error);
      VgImageInfo info;
      VgImage mask = { 0 };

      g_assert_true (vg_mask_probe (&info, path, &error));
      g_assert_cmpint (info.png_color_type, ==, 3);  /* PNG_COLOR_TYPE_PALETTE */
      g_assert_true (vg_mask_load (&mask, path, &error));
      g_assert_cmpmem (mask.data, (gsize) mask.height * mask.width, p->labels,
                       (gsize) p->height * p->width);
      vg_image_clear (&mask);
    }

  /* The formats of the export options: the index PNG of the hair only, its probability
   * map and the legend, one sample. */
  {
    g_autofree char *formats = g_build_filename (f->dir, "out-formats", NULL);
    g_autofree char *index = g_build_filename (formats, "0-index.png", NULL);
    g_autofree char *hair = g_build_filename (formats, "0", "probabilities", "hair.png", NULL);
    g_autofree char *legend = g_build_filename (formats, "legend.png", NULL);
    g_autoptr (VgPrediction) p = predict (service, split->samples[0].image_path, NULL, &error);
    VgExportOptions options;
    VgImage mask = { 0 };

    vg_export_options_init (&options);
    options.formats = VG_EXPORT_FORMAT_INDEX | VG_EXPORT_FORMAT_PROBABILITIES;
    options.classes = 1u << VG_CLASS_HAIR;
    options.legend = TRUE;
    g_assert_cmpint (export (service, split, 0, VG_EXPORT_MASKS, formats, &options, &error), ==,
                     4);
    g_assert_no_error (error);
    g_assert_true (vg_mask_load (&mask, index, &error));
    for (size_t i = 0; i < (size_t) p->height * p->width; i++)
      g_assert_cmpint (mask.data[i], ==, p->labels[i] == VG_CLASS_HAIR ? VG_CLASS_HAIR : 0);
    g_assert_true (vg_mask_load (&mask, hair, &error));
    for (size_t i = 0; i < (size_t) p->height * p->width; i++)
      if (p->labels[i] == VG_CLASS_HAIR)
        g_assert_cmpint (mask.data[i], >=, 255 / VG_NUM_CLASSES);
    g_assert_true (g_file_test (legend, G_FILE_TEST_IS_REGULAR));
    vg_image_clear (&mask);
  }

  /* One overlay: the photo blended with the palette at the opacity asked for. */
  g_assert_cmpint (export (service, split, 1, VG_EXPORT_OVERLAYS, overlays, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpint (vg_test_count_files (overlays, NULL), ==, 1);
  {
    g_autofree char *path = g_build_filename (overlays, "1.png", NULL);
    g_autoptr (VgPrediction) p = predict (service, split->samples[1].image_path, NULL, &error);
    g_autofree guint8 *expected = g_malloc ((gsize) p->height * p->width * 3);
    VgImage picture = { 0 };

    vg_overlay_render (expected, p->rgb, p->labels, p->height, p->width, 0.5f);
    g_assert_true (vg_image_load (&picture, path, &error));
    g_assert_cmpmem (picture.data, (gsize) picture.height * picture.width * 3, expected,
                     (gsize) p->height * p->width * 3);
    vg_image_clear (&picture);
  }

  /* The submission zip. */
  g_assert_cmpint (export (service, split, -1, VG_EXPORT_SUBMISSION, zip, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (zip, &zip_data, &zip_size, &error));
  g_assert_cmpuint (zip_size, >, 4);
  g_assert_cmpmem (zip_data, 2, "PK", 2);

  /* Never over the ground truth: not into the masks folder, and not through a link that
   * leads to a mask. Nothing is written either time. */
  g_assert_cmpint (export (service, split, -1, VG_EXPORT_MASKS, split->masks_dir, NULL, &error), ==,
                   -1);
  g_assert_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_PROTECTED);
  g_clear_error (&error);
  g_assert_cmpint (g_mkdir_with_parents (trap, 0755), ==, 0);
  g_assert_cmpint (symlink (split->samples[2].mask_path, trap_link), ==, 0);
  g_assert_cmpint (export (service, split, -1, VG_EXPORT_MASKS, trap, NULL, &error), ==, -1);
  g_assert_error (error, VG_EXPORT_ERROR, VG_EXPORT_ERROR_PROTECTED);
  g_clear_error (&error);
  g_assert_true (g_file_test (trap_link, G_FILE_TEST_IS_SYMLINK));
  g_assert_cmpint (vg_test_count_files (trap, NULL), ==, 1);
}

typedef struct {
  int n_steps;
  int n_progress;
  int n_messages;
  GArray *epochs;              /* of VgServiceEpoch */
  GCancellable *cancel_at_step;
} TrainWatch;

static void
on_train_step (VgService *service, const VgTrainStep *step, gpointer data)
{
  TrainWatch *w = data;

  g_assert_cmpint (step->step, >=, 1);
  g_assert_cmpint (step->step, <=, step->steps);
  w->n_steps++;
  if (w->cancel_at_step != NULL)
    g_cancellable_cancel (w->cancel_at_step);
}

static void
on_train_epoch (VgService *service, const VgServiceEpoch *epoch, gpointer data)
{
  TrainWatch *w = data;

  g_assert_true (epoch->epoch.state == &epoch->state);
  g_array_append_vals (w->epochs, epoch, 1);
}

static void
on_train_progress (VgService *service, int job, int done, int total, gpointer data)
{
  TrainWatch *w = data;

  g_assert_cmpint (job, ==, VG_SERVICE_JOB_TRAIN);
  g_assert_cmpint (done, <=, total);
  w->n_progress++;
}

static void
on_message (VgService *service, const char *text, gpointer data)
{
  ((TrainWatch *) data)->n_messages++;
}

static void
train_options (VgTrainOptions *opts, Fixture *f, const char *run)
{
  g_autoptr (GError) error = NULL;

  vg_train_options_init (opts);
  g_assert_true (vg_config_parse (&opts->config, "widths=8,16,24,32 depths=1,1,1,1 "
                                  "heads=1,1,1,1 ratios=8,4,2,1 mlp=2 dim=16 head=bilinear",
                                  &error));
  opts->train_dir = g_strdup (f->split_dir);
  opts->val_dir = g_strdup (f->split_dir);
  opts->out_dir = g_build_filename (f->dir, run, NULL);
  opts->epochs = 2;
  opts->batch = 4;
  opts->resolution = 64;
  opts->workers = 1;
}

/* A training run as a job: its news arrive as signals, its best weights load into the
 * service and predict; a cancel stops it. */
static void
test_train (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *best = NULL;
  g_autofree char *image = NULL;
  VgTrainOptions opts;
  VgTrainState state = { 0 };
  TrainWatch w = { 0 };

  if (f->split_dir == NULL)
    return;
  w.epochs = g_array_new (FALSE, FALSE, sizeof (VgServiceEpoch));
  g_signal_connect (service, "train-step", G_CALLBACK (on_train_step), &w);
  g_signal_connect (service, "train-epoch", G_CALLBACK (on_train_epoch), &w);
  g_signal_connect (service, "progress", G_CALLBACK (on_train_progress), &w);
  g_signal_connect (service, "message", G_CALLBACK (on_message), &w);

  train_options (&opts, f, "run");
  vg_service_train_async (service, &opts, NULL, store_result, &result);
  vg_train_options_clear (&opts);  /* the service has its own copy */
  g_assert_true (vg_service_train_finish (service, wait_for (&result), &state, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  /* 8 images in batches of 4: 2 steps an epoch, 2 epochs, each epoch announced once. */
  g_assert_cmpint (state.epoch, ==, 2);
  g_assert_cmpuint (w.epochs->len, ==, 2);
  for (guint i = 0; i < w.epochs->len; i++)
    {
      VgServiceEpoch *e = &g_array_index (w.epochs, VgServiceEpoch, i);

      g_assert_cmpint (e->epoch.epoch, ==, (int) i + 1);
      g_assert_cmpint (e->state.epoch, ==, (int) i + 1);
      g_assert_true (isfinite (e->epoch.val_loss));
    }
  g_assert_cmpint (w.n_steps, >=, 1);
  g_assert_cmpint (w.n_progress, >=, 1);

  /* The run's best weights are a model like any other. */
  best = g_build_filename (f->dir, "run", "best.safetensors", NULL);
  g_assert_true (g_file_test (best, G_FILE_TEST_IS_REGULAR));
  load_model (service, best);
  image = g_build_filename (f->split_dir, "images", "0.jpg", NULL);
  {
    g_autoptr (VgPrediction) p = predict (service, image, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (p->labels);
  }

  /* Cancelled at its first step: ends with G_IO_ERROR_CANCELLED. */
  w.cancel_at_step = cancellable;
  train_options (&opts, f, "cancelled");
  vg_service_train_async (service, &opts, cancellable, store_result, &result);
  vg_train_options_clear (&opts);
  g_assert_false (vg_service_train_finish (service, wait_for (&result), NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_array_unref (w.epochs);
}

/* A run lasts hours: the other jobs queued meanwhile (load a model, open a split, evaluate
 * it) are served between two of its steps, and while it is paused. The run is paused
 * before its first step, so each of them must finish before it can. */
static void
test_jobs_during_training (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autoptr (GAsyncResult) trained = NULL, loaded = NULL, opened = NULL, evaluated = NULL;
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgEvaluation) evaluation = NULL;
  VgTrainOptions opts;
  VgTrainState state;

  if (f->split_dir == NULL)
    return;
  vg_service_set_training_paused (service, TRUE);
  train_options (&opts, f, "background");
  vg_service_train_async (service, &opts, NULL, store_result, &trained);
  vg_train_options_clear (&opts);
  vg_service_load_model_async (service, f->model_path, NULL, store_result, &loaded);
  vg_service_open_split_async (service, f->split_dir, NULL, store_result, &opened);

  g_assert_true (vg_service_load_model_finish (service, wait_for (&loaded), &error));
  g_assert_no_error (error);
  split = vg_service_open_split_finish (service, wait_for (&opened), &error);
  g_assert_no_error (error);
  vg_service_evaluate_async (service, split, NULL, store_result, &evaluated);
  evaluation = vg_service_evaluate_finish (service, wait_for (&evaluated), &error);
  g_assert_no_error (error);
  g_assert_cmpint (evaluation->metrics.n_images, ==, split->n_samples);
  g_assert_null (trained);

  vg_service_set_training_paused (service, FALSE);
  g_assert_true (vg_service_train_finish (service, wait_for (&trained), &state, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state.epoch, ==, 2);
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgService) service = vg_service_new (f->cache_dir);
  g_autoptr (GAsyncResult) result = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "missing.safetensors", NULL);

  /* A model that cannot be loaded keeps the previous one. */
  load_model (service, f->model_path);
  vg_service_load_model_async (service, missing, NULL, store_result, &result);
  g_assert_false (vg_service_load_model_finish (service, wait_for (&result), &error));
  g_assert_nonnull (error);
  g_assert_cmpstr (vg_service_get_model_path (service), ==, f->model_path);
  g_clear_error (&error);
  g_clear_object (&result);

  /* A split folder that does not exist. */
  vg_service_open_split_async (service, missing, NULL, store_result, &result);
  g_assert_null (vg_service_open_split_finish (service, wait_for (&result), &error));
  g_assert_nonnull (error);
}

typedef void (*ServiceTest) (Fixture *f, gconstpointer data);

/* Each test runs on a fresh Fixture. */
static void
add_service_test (const char *path, ServiceTest test)
{
  g_test_add (path, Fixture, NULL, fixture_set_up, test, fixture_tear_down);
}

int
main (int argc, char *argv[])
{
  /* Training caches the split statistics in the user's cache folder: keep them here. */
  g_autofree char *cache_home = vg_test_private_xdg_dir ("XDG_CACHE_HOME",
                                                         "visage-service-cache-XXXXXX");

  g_test_init (&argc, &argv, NULL);
  add_service_test ("/service/predict-and-cache", test_predict_and_cache);
  add_service_test ("/service/cache-keys", test_cache_keys);
  add_service_test ("/service/evaluate", test_evaluate);
  add_service_test ("/service/cancel", test_cancel);
  add_service_test ("/service/runs-off-main-thread", test_runs_off_main_thread);
  add_service_test ("/service/export", test_export);
  add_service_test ("/service/train", test_train);
  add_service_test ("/service/jobs-during-training", test_jobs_during_training);
  add_service_test ("/service/errors", test_errors);
  return vg_test_run_removing (cache_home);
}
