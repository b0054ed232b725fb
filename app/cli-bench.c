/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli bench: training throughput, inference latency, achieved GFLOP/s and memory of
 * a configuration on the CPU backend.
 *
 * Figures (each phase starts from a fresh model, and the process's peak RSS is reset before
 * it through /proc/self/clear_refs, so the peaks of the phases do not mix):
 *  - training, data loading excluded: zero_grad + forward + backward + Adam step on one
 *    synthetic batch already in memory (images N(0, 1), labels uniform over the classes with
 *    about 1% ignored; seeded, so every run computes the same thing);
 *  - training, data loading included (--data DIR): the same step fed by the threaded loader
 *    with the training augmentation at the benchmark size; the step time includes the wait;
 *  - inference: batch 1, evaluation mode, median and minimum over the runs.
 * GFLOP/s convention: a training step counts 3 x the forward's multiply-accumulates (forward,
 * plus backward as twice the forward) x 2 FLOPs per MAC per image; inference 2 x MACs. The
 * MACs are vg_model_forward_macs() (convolutions, linears, attention products; elementwise
 * work, norms and the optimiser are not counted).
 *
 * --precision bf16 applies to the inference figures only; training is always FP32.
 *
 * VISAGE_BENCH_PROFILE=1 (or --profile) times every backend op of the timed steps through a
 * wrapping backend table and prints where the time goes, by op and by op and shape. */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <omp.h>

#include "visage-cli-private.h"
#include "vg-augment.h"
#include "vg-backend.h"
#include "vg-classes.h"
#include "vg-config.h"
#include "vg-gemm.h"
#include "vg-loader.h"
#include "vg-model.h"
#include "vg-profile.h"
#include "vg-split.h"
#include "vg-stats.h"

/* The optimiser of the benchmark step; PyTorch's side (tests/bench/compare.py) uses the same:
 * torch.optim.Adam(lr=1e-4), no weight decay. */
#define BENCH_LR 1e-4f
#define BENCH_SEED 20240501u

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Median of n values (sorts them). */
static double
median (double *v, int n)
{
  qsort (v, n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- memory: /proc/self/status ------------------------------------------------------- */

/* A "VmHWM:" style field (in kB) of /proc/self/status, or of another such file, in bytes;
 * 0 if unreadable. */
static size_t
proc_field_bytes (const char *path, const char *field)
{
  g_autofree char *text = NULL;
  size_t len = strlen (field);

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  for (const char *line = text; line != NULL && *line != '\0';)
    {
      if (strncmp (line, field, len) == 0 && line[len] == ':')
        return (size_t) g_ascii_strtoull (line + len + 1, NULL, 10) * 1024;
      line = strchr (line, '\n');
      if (line != NULL)
        line++;
    }
  return 0;
}

static size_t
proc_status_bytes (const char *field)
{
  return proc_field_bytes ("/proc/self/status", field);
}

/* The kernel's transparent huge page mode (the bracketed word of its setting: always,
 * madvise or never), into mode; "unknown" where the file is absent. */
static void
thp_mode (char *mode, size_t size)
{
  g_autofree char *text = NULL;
  const char *open_br, *close_br;

  g_strlcpy (mode, "unknown", size);
  if (!g_file_get_contents ("/sys/kernel/mm/transparent_hugepage/enabled", &text, NULL, NULL)
      || (open_br = strchr (text, '[')) == NULL || (close_br = strchr (open_br, ']')) == NULL)
    return;
  g_strlcpy (mode, open_br + 1, MIN (size, (size_t) (close_br - open_br)));
}

/* Reset the peak RSS to the current RSS (Linux >= 4.0); FALSE if the kernel refused. */
static gboolean
reset_peak_rss (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write (fd, "5", 1) == 1;
  close (fd);
  return ok;
}

/* ---- the benchmark ----------------------------------------------------------------------- */

typedef struct {
  VgConfig cfg;
  int B, H, W, threads, steps, warmup, runs, workers;
  gboolean do_train, do_infer, profile;
  VgPrecision infer_precision; /* --precision: inference only, training is always FP32 */
  const char *data_dir;
  double gmacs;              /* forward GMAC per image at H x W */

  /* results; negative = not measured */
  double train_ips, train_step_med_ms, train_step_min_ms, train_gflops;
  double train_loss_first, train_loss_last;
  double train_setup_s, infer_setup_s;  /* vg_model_new + init + reserve, first step excluded */
  size_t train_model_bytes, train_peak_rss;
  size_t train_huge_bytes;             /* anonymous memory in huge pages after the steps */
  double data_ips, data_step_med_ms, data_wait_share, data_gflops;
  size_t data_model_bytes, data_peak_rss;
  double infer_med_ms, infer_min_ms, infer_gflops;
  size_t infer_model_bytes, infer_peak_rss;
  double sgemm_gflops;        /* the best of the paths below: the reference rate */
  double sgemm_path_gflops[3]; /* OpenBLAS, engine AVX2, engine AVX-512; 0 = not run */
  int sgemm_n;
  gboolean peak_reset_ok;
} Bench;

typedef struct {
  float *m;  /* (P) first moment */
  float *v;  /* (P) second moment */
  int t;
} AdamState;

/* What a timed training step needs besides the model, on the backend. */
typedef struct {
  float *images;     /* (B, H, W, 3) */
  uint8_t *targets;  /* (B, H, W) */
  AdamState opt;
} TrainBuffers;

/* Deterministic synthetic batch: images N(0, 1) (already whitened), labels uniform over the
 * classes with about 1% ignore_index, like the reference's generator. */
static void
synthetic_batch (float *images, uint8_t *targets, int B, int H, int W, int NC)
{
  VgRng rng;
  size_t n = (size_t) B * H * W;

  vg_rng_seed (&rng, BENCH_SEED);
  for (size_t i = 0; i < n * 3; i++)
    images[i] = vg_rng_normal (&rng);
  for (size_t i = 0; i < n; i++)
    targets[i] = vg_rng_below (&rng, 100) == 0 ? VG_IGNORE_INDEX
                                               : (uint8_t) vg_rng_below (&rng, (uint32_t) NC);
}

/* The report's class weights from the README's class shares of the training pixels; the
 * weighted loss costs the same whatever the weights, these only keep it realistic. */
static void
bench_class_weights (float *weights)
{
  static const double shares[VG_NUM_CLASSES] = {
    28.618, 25.419, 2.061, 0.265, 0.224, 0.223, 0.425, 0.415, 0.47, 0.385,
    0.297, 0.413, 0.679, 31.37, 0.965, 0.237, 0.015, 4.122, 3.396,
  };
  uint64_t counts[VG_NUM_CLASSES];

  for (int c = 0; c < VG_NUM_CLASSES; c++)
    counts[c] = (uint64_t) (shares[c] / 100.0 * 5000 * 512 * 512);
  vg_class_weights (weights, counts, VG_NUM_CLASSES);
}

static VgModel *
bench_model (Bench *b, const VgBackend *be, int B, gboolean training, GError **error)
{
  g_autoptr (VgModel) model = vg_model_new (&b->cfg, be, error);
  float weights[VG_NUM_CLASSES];

  if (model == NULL)
    return NULL;
  vg_model_init (model, 0);
  if (!vg_model_reserve (model, B, b->H, b->W, training, error))
    return NULL;
  if (b->cfg.num_classes == VG_NUM_CLASSES)
    {
      bench_class_weights (weights);
      vg_model_set_class_weights (model, weights);
    }
  return g_steal_pointer (&model);
}

static float
train_step (VgModel *model, const VgBackend *be, TrainBuffers *t, int B)
{
  AdamState *opt = &t->opt;
  float loss;

  vg_model_zero_grad (model);
  loss = vg_model_forward_backward (model, t->images, t->targets, B); /* as the trainer's */
  opt->t++;
  be->adam_step (vg_model_params (model), vg_model_grads (model), opt->m, opt->v,
                 vg_model_num_params (model), BENCH_LR, 0.9f, 0.999f, 1e-8f, 0.0f, opt->t, 0);
  be->synchronize ();
  return loss;
}

static gboolean
adam_state_init (AdamState *opt, const VgBackend *be, size_t n, GError **error)
{
  opt->t = 0;
  opt->m = be->alloc (n * sizeof (float), error);
  opt->v = opt->m != NULL ? be->alloc (n * sizeof (float), error) : NULL;
  if (opt->v == NULL)
    return FALSE;
  be->zero (opt->m, n * sizeof (float));
  be->zero (opt->v, n * sizeof (float));
  return TRUE;
}

/* n = B * H * W pixels of a batch. */
static gboolean
train_buffers_init (TrainBuffers *t, const VgBackend *be, VgModel *model, size_t n,
                    GError **error)
{
  t->images = be->alloc (n * 3 * sizeof (float), error);
  t->targets = t->images != NULL ? be->alloc (n, error) : NULL;
  return t->targets != NULL
         && adam_state_init (&t->opt, be, vg_model_num_params (model), error);
}

static void
train_buffers_clear (TrainBuffers *t, const VgBackend *be)
{
  be->free (t->opt.m);
  be->free (t->opt.v);
  be->free (t->images);
  be->free (t->targets);
  memset (t, 0, sizeof *t);
}

/* Training on synthetic data in memory. */
static gboolean
bench_train (Bench *b, const VgBackend *be, GError **error)
{
  g_autoptr (VgModel) model = NULL;
  g_autofree double *times = g_new0 (double, b->steps);
  size_t n = (size_t) b->B * b->H * b->W;
  TrainBuffers t = { 0 };
  double total = 0;
  gboolean ok = FALSE;

  b->peak_reset_ok = reset_peak_rss ();
  b->train_setup_s = now_s ();
  model = bench_model (b, be, b->B, TRUE, error);
  b->train_setup_s = now_s () - b->train_setup_s;
  if (model == NULL)
    return FALSE;
  if (!train_buffers_init (&t, be, model, n, error))
    goto out;
  {
    g_autofree float *host_images = g_new (float, n * 3);
    g_autofree uint8_t *host_targets = g_new (uint8_t, n);
    synthetic_batch (host_images, host_targets, b->B, b->H, b->W, b->cfg.num_classes);
    be->upload (t.images, host_images, n * 3 * sizeof (float));
    be->upload (t.targets, host_targets, n);
  }

  for (int i = 0; i < b->warmup; i++)
    train_step (model, be, &t, b->B);
  vg_profile_set_recording (b->profile);
  for (int i = 0; i < b->steps; i++)
    {
      double t0 = now_s ();
      float loss = train_step (model, be, &t, b->B);
      times[i] = now_s () - t0;
      total += times[i];
      if (i == 0)
        b->train_loss_first = loss;
      b->train_loss_last = loss;
    }
  vg_profile_set_recording (FALSE);

  b->train_ips = b->B * b->steps / total;
  b->train_gflops = 3.0 * 2.0 * b->gmacs * b->B * b->steps / total;
  b->train_step_med_ms = 1e3 * median (times, b->steps);
  b->train_step_min_ms = 1e3 * times[0];  /* sorted by median() */
  b->train_model_bytes = vg_model_memory_bytes (model);
  b->train_peak_rss = proc_status_bytes ("VmHWM");
  b->train_huge_bytes = proc_field_bytes ("/proc/self/smaps_rollup", "AnonHugePages");
  if (b->profile)
    {
      char title[128];
      snprintf (title, sizeof title, "training, batch %d at %dx%d", b->B, b->W, b->H);
      vg_profile_report (stdout, title, b->steps, total);
    }
  ok = TRUE;
out:
  train_buffers_clear (&t, be);
  return ok;
}

/* Training fed by the threaded loader from a split (augmented at the benchmark size). */
static gboolean
bench_train_data (Bench *b, const VgBackend *be, GError **error)
{
  /* ImageNet's whitening: the statistics of the split do not change the speed, and
   * computing them would read the whole split first. */
  static const double mean[3] = { 0.485, 0.456, 0.406 }, std[3] = { 0.229, 0.224, 0.225 };
  g_autoptr (VgSplit) split = NULL;
  g_autoptr (VgLoader) loader = NULL;
  g_autoptr (VgModel) model = NULL;
  g_autofree double *times = g_new0 (double, b->steps);
  size_t n = (size_t) b->B * b->H * b->W;
  VgLoaderParams lp;
  TrainBuffers t = { 0 };
  double total = 0, wait0;
  int epoch = 0;
  gboolean ok = FALSE;

  split = vg_split_open (b->data_dir, VG_SPLIT_REQUIRE_MASKS, b->threads, NULL, error);
  if (split == NULL)
    return FALSE;
  vg_loader_params_init (&lp, TRUE);
  lp.batch_size = b->B;
  lp.n_workers = b->workers;
  lp.seed = BENCH_SEED;
  lp.aug.out_height = b->H;
  lp.aug.out_width = b->W;
  vg_augment_params_set_whitening (&lp.aug, mean, std);

  reset_peak_rss ();
  model = bench_model (b, be, b->B, TRUE, error);
  if (model == NULL)
    return FALSE;
  loader = vg_loader_new (split, &lp, error);
  if (loader == NULL)
    return FALSE;
  if (!train_buffers_init (&t, be, model, n, error))
    goto out;

  vg_loader_start_epoch (loader, epoch);
  wait0 = 0;
  for (int i = 0; i < b->warmup + b->steps; i++)
    {
      const VgBatch *batch;
      double t0;

      if (i == b->warmup)
        wait0 = vg_loader_wait_seconds (loader);
      t0 = now_s ();
      batch = vg_loader_next (loader, error);
      if (batch == NULL && *error == NULL)
        {
          vg_loader_start_epoch (loader, ++epoch);
          batch = vg_loader_next (loader, error);
        }
      if (batch == NULL)
        {
          if (*error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the loader gave no batch");
          goto out;
        }
      /* copies into the model's memory (a device upload on other backends) */
      be->upload (t.images, batch->images,
                  (size_t) batch->n * b->H * b->W * 3 * sizeof (float));
      be->upload (t.targets, batch->masks, (size_t) batch->n * b->H * b->W);
      vg_loader_release (loader, batch);
      train_step (model, be, &t, b->B);
      if (i >= b->warmup)
        {
          times[i - b->warmup] = now_s () - t0;
          total += times[i - b->warmup];
        }
    }

  b->data_ips = b->B * b->steps / total;
  b->data_gflops = 3.0 * 2.0 * b->gmacs * b->B * b->steps / total;
  b->data_step_med_ms = 1e3 * median (times, b->steps);
  b->data_wait_share = (vg_loader_wait_seconds (loader) - wait0) / total;
  b->data_model_bytes = vg_model_memory_bytes (model);
  b->data_peak_rss = proc_status_bytes ("VmHWM");
  ok = TRUE;
out:
  train_buffers_clear (&t, be);
  return ok;
}

/* Single-image inference: batch 1, evaluation mode. */
static gboolean
bench_infer (Bench *b, const VgBackend *be, GError **error)
{
  g_autoptr (VgModel) model = NULL;
  int runs = b->runs;
  g_autofree double *times = g_new0 (double, runs);
  size_t n = (size_t) b->H * b->W;
  float *image = NULL;
  double total = 0;

  reset_peak_rss ();
  b->infer_setup_s = now_s ();
  model = bench_model (b, be, 1, FALSE, error);
  b->infer_setup_s = now_s () - b->infer_setup_s;
  if (model == NULL)
    return FALSE;
  image = be->alloc (n * 3 * sizeof (float), error);
  if (image == NULL)
    return FALSE;
  {
    g_autofree float *host = g_new (float, n * 3);
    g_autofree uint8_t *labels = g_new (uint8_t, n);
    synthetic_batch (host, labels, 1, b->H, b->W, b->cfg.num_classes);
    be->upload (image, host, n * 3 * sizeof (float));
  }

  for (int i = 0; i < b->warmup; i++)
    {
      vg_model_forward (model, image, NULL, 1, FALSE);
      be->synchronize ();
    }
  vg_profile_set_recording (b->profile);
  for (int i = 0; i < runs; i++)
    {
      double t0 = now_s ();
      vg_model_forward (model, image, NULL, 1, FALSE);
      be->synchronize ();
      times[i] = now_s () - t0;
      total += times[i];
    }
  vg_profile_set_recording (FALSE);

  b->infer_med_ms = 1e3 * median (times, runs);
  b->infer_min_ms = 1e3 * times[0];
  b->infer_gflops = 2.0 * b->gmacs / (b->infer_med_ms / 1e3);
  b->infer_model_bytes = vg_model_memory_bytes (model);
  b->infer_peak_rss = proc_status_bytes ("VmHWM");
  if (b->profile)
    {
      char title[128];
      snprintf (title, sizeof title, "inference, batch 1 at %dx%d", b->W, b->H);
      vg_profile_report (stdout, title, runs, total);
    }
  be->free (image);
  return TRUE;
}

/* The paths --sgemm times, in the order of Bench.sgemm_path_gflops. */
static const VgGemmPath sgemm_paths[3] = { VG_GEMM_BLAS, VG_GEMM_AVX2, VG_GEMM_AVX512 };

/* sgemm on square n x n matrices (A B^T, as a linear layer) with the benchmark's threads, on
 * one path: OpenBLAS with the core it chose, or the engine's packed GEMM. Best of a few runs
 * after one warm-up; 0 if the processor lacks the path. */
static double
bench_sgemm (int n, VgGemmPath path)
{
  size_t nn = (size_t) n * n;
  g_autofree float *a = g_new (float, nn);
  g_autofree float *bm = g_new (float, nn);
  g_autofree float *c = g_new0 (float, nn);
  double best = 1e30;
  VgRng rng;

  vg_rng_seed (&rng, BENCH_SEED);
  for (size_t i = 0; i < nn; i++)
    {
      a[i] = vg_rng_uniform (&rng, -1, 1);
      bm[i] = vg_rng_uniform (&rng, -1, 1);
    }
  for (int r = 0; r < 6; r++)
    {
      double t0 = now_s ();
      if (path == VG_GEMM_BLAS)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, bm, n, 0.0f,
                     c, n);
      else if (!vg_sgemm_packed (path, FALSE, TRUE, n, n, n, 1.0f, a, n, bm, n, 0.0f, c, n))
        return 0.0;
      if (r > 0)
        best = MIN (best, now_s () - t0);
    }
  return 2.0 * n * n * (double) n / best / 1e9;
}

/* every path the processor has; the best is the reference rate */
static void
bench_sgemm_paths (Bench *b)
{
  b->sgemm_gflops = 0.0;
  for (int p = 0; p < 3; p++)
    {
      b->sgemm_path_gflops[p] = bench_sgemm (b->sgemm_n, sgemm_paths[p]);
      b->sgemm_gflops = MAX (b->sgemm_gflops, b->sgemm_path_gflops[p]);
    }
}

/* ---- output ------------------------------------------------------------------------------ */

static const char *
env_or (const char *name, const char *fallback)
{
  const char *value = g_getenv (name);
  return value != NULL ? value : fallback;
}

static void
print_row (const char *label, const char *value, const char *note)
{
  printf ("  %-46s %14s  %s\n", label, value, note != NULL ? note : "");
}

static void
print_report (const Bench *b)
{
  g_autofree char *spec = vg_config_to_string (&b->cfg);
  g_autofree char *kernels = vg_gemm_describe ();
  char v[64], note[160], mode[32];

  printf ("visage-cli bench: %s (%s)\n", b->cfg.name, spec);
  printf ("backend cpu, %d thread%s (OpenMP %d, OpenBLAS %d, core %s); OPENBLAS_CORETYPE=%s "
          "OPENBLAS_L2_SIZE=%s\n", b->threads, b->threads == 1 ? "" : "s", omp_get_max_threads (),
          openblas_get_num_threads (), openblas_get_corename (),
          env_or ("OPENBLAS_CORETYPE", "(unset)"), env_or ("OPENBLAS_L2_SIZE", "(unset)"));
  printf ("matrix products: %s\n", kernels);
  printf ("convolutions: %s\n", vg_conv_describe ());
  printf ("attention: %s\n", vg_attention_describe ());
  printf ("element-wise kernels (norms, activations, resize, losses, softmax): %s clones\n",
          vg_simd_describe ());
  printf ("parameters %zu; forward %.3f GMAC per %dx%d image\n",
          vg_config_count_params (&b->cfg), b->gmacs, b->W, b->H);
  printf ("GFLOP/s convention: training step = 3 x forward MACs x 2 FLOP per image "
          "(backward = 2 x forward); inference = 2 x forward MACs; MACs of convolutions, "
          "linears and attention products only (a Winograd convolution counts the MACs of "
          "the direct one).\n\n");
  print_row ("figure", "value", "details");

  if (b->do_train)
    {
      snprintf (v, sizeof v, "%.2f img/s", b->train_ips);
      snprintf (note, sizeof note, "batch %d at %dx%d, %d step%s after %d warm-up; step "
                "median %.1f ms, min %.1f ms", b->B, b->W, b->H, b->steps,
                b->steps == 1 ? "" : "s", b->warmup, b->train_step_med_ms, b->train_step_min_ms);
      print_row ("training, data loading excluded", v, note);
      snprintf (v, sizeof v, "%.1f", b->train_gflops);
      print_row ("training GFLOP/s (achieved)", v, NULL);
      snprintf (v, sizeof v, "%.4f", b->train_loss_last);
      snprintf (note, sizeof note, "first timed step %.4f", b->train_loss_first);
      print_row ("training loss, last step", v, note);
      snprintf (v, sizeof v, "%.1f MiB", b->train_peak_rss / 1048576.0);
      print_row ("training peak RSS (VmHWM)", v,
                 b->peak_reset_ok ? "reset before the phase" : "whole process");
      snprintf (v, sizeof v, "%.1f MiB", b->train_model_bytes / 1048576.0);
      print_row ("training model memory (planned)", v,
                 "parameters, gradients, activations, scratch; Adam state adds 2 x params");
      snprintf (v, sizeof v, "%.0f ms", 1e3 * b->train_setup_s);
      print_row ("training model setup", v, "vg_model_new, init, reserve (not in the figures)");
      thp_mode (mode, sizeof mode);
      snprintf (v, sizeof v, "%.1f MiB", b->train_huge_bytes / 1048576.0);
      snprintf (note, sizeof note, "transparent huge pages: %s (the engine asks for them for "
                "its blocks of 4 MiB or more)", mode);
      print_row ("training memory in huge pages", v, note);
    }
  if (b->data_dir != NULL && b->do_train)
    {
      snprintf (v, sizeof v, "%.2f img/s", b->data_ips);
      snprintf (note, sizeof note, "%s, %d loader worker%s; step median %.1f ms; waiting for "
                "data %.1f%% of the time", b->data_dir, b->workers, b->workers == 1 ? "" : "s",
                b->data_step_med_ms, 100 * b->data_wait_share);
      print_row ("training, data loading included", v, note);
      snprintf (v, sizeof v, "%.1f", b->data_gflops);
      print_row ("training GFLOP/s with data loading", v, NULL);
      snprintf (v, sizeof v, "%.1f MiB", b->data_peak_rss / 1048576.0);
      print_row ("training with data, peak RSS (VmHWM)", v, NULL);
    }
  if (b->do_infer)
    {
      snprintf (v, sizeof v, "%.2f ms", b->infer_med_ms);
      snprintf (note, sizeof note, "batch 1 at %dx%d, eval mode, %s, median of %d run%s after "
                "%d warm-up; min %.2f ms", b->W, b->H,
                b->infer_precision == VG_PRECISION_BF16 ? "bf16" : "fp32", b->runs,
                b->runs == 1 ? "" : "s", b->warmup, b->infer_min_ms);
      print_row ("inference latency", v, note);
      snprintf (v, sizeof v, "%.1f", b->infer_gflops);
      print_row ("inference GFLOP/s (achieved, median)", v, NULL);
      snprintf (v, sizeof v, "%.1f MiB", b->infer_peak_rss / 1048576.0);
      print_row ("inference peak RSS (VmHWM)", v, NULL);
      snprintf (v, sizeof v, "%.1f MiB", b->infer_model_bytes / 1048576.0);
      print_row ("inference model memory (planned)", v, NULL);
      snprintf (v, sizeof v, "%.0f ms", 1e3 * b->infer_setup_s);
      print_row ("inference model setup", v, "vg_model_new, init, reserve (not in the figures)");
    }
  if (b->sgemm_gflops > 0)
    {
      for (int p = 0; p < 3; p++)
        {
          char label[64];

          if (b->sgemm_path_gflops[p] <= 0)
            continue;
          snprintf (label, sizeof label, "sgemm GFLOP/s, %s", vg_gemm_path_name (sgemm_paths[p]));
          snprintf (v, sizeof v, "%.1f", b->sgemm_path_gflops[p]);
          snprintf (note, sizeof note, "%d x %d x %d, best of 5%s%s", b->sgemm_n, b->sgemm_n,
                    b->sgemm_n, p == 0 ? ", core " : "", p == 0 ? openblas_get_corename () : "");
          print_row (label, v, note);
        }
      snprintf (v, sizeof v, "%.1f", b->sgemm_gflops);
      print_row ("sgemm GFLOP/s (reference rate)", v, "the best of the paths above");
      if (b->do_train)
        {
          snprintf (v, sizeof v, "%.2f", b->train_gflops / b->sgemm_gflops);
          print_row ("training GFLOP/s / sgemm GFLOP/s", v, NULL);
        }
    }
  printf ("  %-46s %14.1f MiB\n", "process peak RSS at exit (VmHWM)",
          proc_status_bytes ("VmHWM") / 1048576.0);
}

static void
json_number (GString *s, const char *key, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (s, ",\n  \"%s\": %s", key,
                          isfinite (value) ? g_ascii_formatd (buf, sizeof buf, "%.10g", value)
                                           : "null");
}

static void
json_string (GString *s, const char *key, const char *value, gboolean first)
{
  g_autofree char *escaped = g_strescape (value, NULL);
  g_string_append_printf (s, "%s\n  \"%s\": \"%s\"", first ? "" : ",", key, escaped);
}

static gboolean
write_json (const Bench *b, const char *path, GError **error)
{
  g_autoptr (GString) s = g_string_new ("{");
  g_autofree char *spec = vg_config_to_string (&b->cfg);
  g_autofree char *kernels = vg_gemm_describe ();

  json_string (s, "config", b->cfg.name, TRUE);
  json_string (s, "spec", spec, FALSE);
  json_string (s, "backend", "cpu", FALSE);
  json_string (s, "openblas_coretype", env_or ("OPENBLAS_CORETYPE", ""), FALSE);
  json_string (s, "openblas_l2_size", env_or ("OPENBLAS_L2_SIZE", ""), FALSE);
  json_string (s, "openblas_corename", openblas_get_corename (), FALSE);
  json_string (s, "gemm_kernels", kernels, FALSE);
  json_string (s, "conv_kernels", vg_conv_describe (), FALSE);
  json_string (s, "attention_kernels", vg_attention_describe (), FALSE);
  json_string (s, "elementwise_kernels", vg_simd_describe (), FALSE);
  json_string (s, "gemm_large_path", vg_gemm_path_name (vg_gemm_large_path ()), FALSE);
  json_string (s, "infer_precision",
               b->infer_precision == VG_PRECISION_BF16 ? "bf16" : "fp32", FALSE);
  json_string (s, "flop_convention", "train step: 3 x forward MACs x 2 per image; "
               "inference: 2 x forward MACs", FALSE);
  json_number (s, "batch", b->B);
  json_number (s, "height", b->H);
  json_number (s, "width", b->W);
  json_number (s, "threads", b->threads);
  json_number (s, "steps", b->steps);
  json_number (s, "warmup", b->warmup);
  json_number (s, "params", (double) vg_config_count_params (&b->cfg));
  json_number (s, "forward_gmacs_per_image", b->gmacs);
  if (b->do_train)
    {
      json_number (s, "train_images_per_s", b->train_ips);
      json_number (s, "train_step_ms_median", b->train_step_med_ms);
      json_number (s, "train_step_ms_min", b->train_step_min_ms);
      json_number (s, "train_gflops", b->train_gflops);
      json_number (s, "train_loss", b->train_loss_last);
      json_number (s, "train_peak_rss_bytes", (double) b->train_peak_rss);
      json_number (s, "train_huge_pages_bytes", (double) b->train_huge_bytes);
      json_number (s, "train_model_bytes", (double) b->train_model_bytes);
      json_number (s, "train_setup_ms", 1e3 * b->train_setup_s);
    }
  if (b->do_train && b->data_dir != NULL)
    {
      json_number (s, "data_images_per_s", b->data_ips);
      json_number (s, "data_step_ms_median", b->data_step_med_ms);
      json_number (s, "data_wait_share", b->data_wait_share);
      json_number (s, "data_gflops", b->data_gflops);
      json_number (s, "data_peak_rss_bytes", (double) b->data_peak_rss);
      json_number (s, "data_workers", b->workers);
    }
  if (b->do_infer)
    {
      json_number (s, "infer_runs", b->runs);
      json_number (s, "infer_latency_ms_median", b->infer_med_ms);
      json_number (s, "infer_latency_ms_min", b->infer_min_ms);
      json_number (s, "infer_gflops", b->infer_gflops);
      json_number (s, "infer_peak_rss_bytes", (double) b->infer_peak_rss);
      json_number (s, "infer_model_bytes", (double) b->infer_model_bytes);
      json_number (s, "infer_setup_ms", 1e3 * b->infer_setup_s);
    }
  if (b->sgemm_gflops > 0)
    {
      static const char *const keys[3] = { "sgemm_openblas_gflops", "sgemm_engine_avx2_gflops",
                                           "sgemm_engine_avx512_gflops" };

      json_number (s, "sgemm_n", b->sgemm_n);
      json_number (s, "sgemm_gflops", b->sgemm_gflops);
      for (int p = 0; p < 3; p++)
        if (b->sgemm_path_gflops[p] > 0)
          json_number (s, keys[p], b->sgemm_path_gflops[p]);
    }
  json_number (s, "peak_rss_bytes", (double) proc_status_bytes ("VmHWM"));
  g_string_append (s, "\n}\n");
  return g_file_set_contents (path, s->str, (gssize) s->len, error);
}

/* ---- the command ------------------------------------------------------------------------- */

int
vg_cli_bench (int argc, char **argv)
{
  g_autofree char *config_help = vg_cli_config_help ();
  g_autofree char *config_name = NULL;
  g_autofree char *spec = NULL;
  g_autofree char *size = NULL;
  g_autofree char *mode = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *json_path = NULL, *precision = NULL;
  g_autoptr (GError) error = NULL;
  int batch = 8, threads = g_get_num_processors (), steps = 5, warmup = 1, runs = 0;
  int workers = 2, sgemm_n = 0;
  gboolean profile = FALSE, sgemm = FALSE;
  GOptionEntry entries[] = {
    VG_CLI_CONFIG_OPTIONS (config_name, spec, config_help),
    VG_CLI_PRECISION_OPTION (precision),
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Training batch size (default 8)", "B" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size,
      "Input size N or WxH, multiples of 32 (default 256)", "SIZE" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      "OpenMP and OpenBLAS threads (default: all processors)", "T" },
    { "steps", 'n', 0, G_OPTION_ARG_INT, &steps, "Timed training steps (default 5)", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &warmup,
      "Untimed warm-up steps and runs (default 1)", "N" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &runs,
      "Timed inference runs (default: --steps, at least 3)", "N" },
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
      "What to measure: train, infer or all (default all)", "MODE" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Also train from this split (images/, masks/) through the threaded loader", "DIR" },
    { "workers", 0, 0, G_OPTION_ARG_INT, &workers,
      "Loader threads with --data (default 2)", "N" },
    { "sgemm", 0, 0, G_OPTION_ARG_NONE, &sgemm,
      "Also measure sgemm (2048 x 2048) on each path (OpenBLAS, the engine's AVX2 and "
      "AVX-512 kernels where the processor has them); the best is the reference rate", NULL },
    { "sgemm-size", 0, 0, G_OPTION_ARG_INT, &sgemm_n, "Matrix size of --sgemm", "N" },
    { "json", 'j', 0, G_OPTION_ARG_FILENAME, &json_path, "Also write the figures as JSON",
      "FILE" },
    { "profile", 0, 0, G_OPTION_ARG_NONE, &profile,
      "Time every op of the timed steps (also VISAGE_BENCH_PROFILE=1)", NULL },
    { NULL }
  };
  int status = EXIT_OK;
  const VgBackend *be = vg_backend_cpu ();
  Bench b = { 0 };
  gboolean ok;

  if (!vg_cli_parse_options_only ("bench", "training and inference speed", entries, &argc, &argv,
                                  &status))
    return status;
  b.H = b.W = 256;
  if (!vg_cli_parse_size ("bench", size, &b.H, &b.W))
    return EXIT_USAGE;
  if (batch < 1 || threads < 1 || steps < 1 || warmup < 0 || runs < 0 || workers < 1
      || sgemm_n < 0)
    {
      fprintf (stderr, "visage-cli bench: --batch, --threads, --steps and --workers must be at "
               "least 1, --warmup, --runs and --sgemm-size at least 0\n");
      return EXIT_USAGE;
    }
  if (mode == NULL || strcmp (mode, "all") == 0)
    b.do_train = b.do_infer = TRUE;
  else if (strcmp (mode, "train") == 0)
    b.do_train = TRUE;
  else if (strcmp (mode, "infer") == 0)
    b.do_infer = TRUE;
  else
    {
      fprintf (stderr, "visage-cli bench: --mode must be train, infer or all, not '%s'\n",
               mode);
      return EXIT_USAGE;
    }
  if (data_dir != NULL && !b.do_train)
    {
      fprintf (stderr, "visage-cli bench: --data needs --mode train or all\n");
      return EXIT_USAGE;
    }
  if (!vg_cli_resolve_config (&b.cfg, config_name, spec, &error))
    {
      fprintf (stderr, "visage-cli bench: %s\n", error->message);
      return EXIT_USAGE;
    }
  if (!vg_cli_set_precision ("bench", precision))
    return EXIT_USAGE;
  b.infer_precision = vg_gemm_precision ();
  vg_gemm_set_precision (VG_PRECISION_FP32);

  b.B = batch;
  b.threads = threads;
  b.steps = steps;
  b.warmup = warmup;
  b.runs = runs > 0 ? runs : MAX (steps, 3);
  b.workers = workers;
  b.data_dir = data_dir;
  b.profile = profile || g_strcmp0 (g_getenv ("VISAGE_BENCH_PROFILE"), "1") == 0;
  b.gmacs = vg_model_forward_macs (&b.cfg, b.H, b.W) / 1e9;
  b.sgemm_n = sgemm_n > 0 ? sgemm_n : 2048;

  omp_set_num_threads (threads);
  openblas_set_num_threads (threads);
  if (b.profile)
    be = vg_profile_backend (be, FALSE);

  if (b.do_train && !bench_train (&b, be, &error))
    {
      fprintf (stderr, "visage-cli bench: training: %s\n", error->message);
      return EXIT_FAILURE_RUN;
    }
  if (b.do_train && data_dir != NULL && !bench_train_data (&b, be, &error))
    {
      fprintf (stderr, "visage-cli bench: training from %s: %s\n", data_dir, error->message);
      return EXIT_FAILURE_RUN;
    }
  vg_gemm_set_precision (b.infer_precision);
  ok = !b.do_infer || bench_infer (&b, be, &error);
  vg_gemm_set_precision (VG_PRECISION_FP32);
  if (!ok)
    {
      fprintf (stderr, "visage-cli bench: inference: %s\n", error->message);
      return EXIT_FAILURE_RUN;
    }
  if (sgemm || sgemm_n > 0)
    bench_sgemm_paths (&b);

  if (b.profile)
    printf ("\n");
  print_report (&b);
  if (json_path != NULL && !write_json (&b, json_path, &error))
    {
      fprintf (stderr, "visage-cli bench: %s\n", error->message);
      return EXIT_FAILURE_RUN;
    }
  return EXIT_OK;
}
