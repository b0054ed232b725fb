/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli train: the report's training method (engine/vg-train.h) on the command line.
 *
 * stdout gets one summary line per epoch; progress, notices and errors go to stderr.
 * Exit codes: 0 done, 1 failure, 2 usage (also option values the engine refuses),
 * 130 interrupted (Ctrl-C: the epoch in progress is abandoned, last.safetensors keeps the
 * previous one, and --resume continues). */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "visage-cli-private.h"
#include "vg-train.h"

#define EXIT_INTERRUPTED 130  /* the shell's convention for a SIGINT stop */

typedef struct {
  VgCliProgress *progress;  /* the phase on screen: training or validating */
  int epoch;
  int epochs;
  gboolean validating;
  VgTrainStep last_step;    /* for the training line's summary */
} CliTrain;

static void
on_message (const char *text, gpointer data)
{
  (void) data;
  fprintf (stderr, "%s\n", text);
}

static void
finish_training_line (CliTrain *c)
{
  g_autofree char *summary = NULL;

  if (c->progress == NULL)
    return;
  summary = g_strdup_printf ("loss %.4f  %.1f img/s  loader %.0f%%", c->last_step.loss,
                             c->last_step.images_per_s, 100.0 * c->last_step.loader_share);
  vg_cli_progress_finish (c->progress, summary);
  g_clear_pointer (&c->progress, vg_cli_progress_free);
}

static void
on_step (const VgTrainStep *step, gpointer data)
{
  CliTrain *c = data;
  char extra[128];

  if (c->progress == NULL || c->epoch != step->epoch || c->validating)
    {
      g_autofree char *label = g_strdup_printf ("epoch %d/%d train", step->epoch, step->epochs);
      g_clear_pointer (&c->progress, vg_cli_progress_free);
      c->progress = vg_cli_progress_new (label, step->steps, "steps");
      /* the first step seen: in a resumed epoch, the ones before it ran earlier */
      vg_cli_progress_set_base (c->progress, step->step - 1);
      c->epoch = step->epoch;
      c->epochs = step->epochs;
      c->validating = FALSE;
    }
  c->last_step = *step;
  g_snprintf (extra, sizeof extra, "loss %.4f  %.1f img/s  loader %.0f%%  lr %.3g", step->loss,
              step->images_per_s, 100.0 * step->loader_share, step->lr);
  vg_cli_progress_update (c->progress, step->step, extra);
}

static void
on_validate (int epoch, int done, int total, gpointer data)
{
  CliTrain *c = data;

  if (!c->validating)
    {
      g_autofree char *label = NULL;
      finish_training_line (c);
      label = g_strdup_printf ("epoch %d/%d validate", epoch, c->epochs);
      c->progress = vg_cli_progress_new (label, total, "images");
      c->validating = TRUE;
    }
  vg_cli_progress_update (c->progress, done, NULL);
}

static void
on_epoch (const VgTrainEpoch *e, gpointer data)
{
  CliTrain *c = data;
  const VgTrainState *s = e->state;

  if (c->progress != NULL)
    {
      vg_cli_progress_finish (c->progress, NULL);
      g_clear_pointer (&c->progress, vg_cli_progress_free);
    }
  c->validating = FALSE;
  printf ("epoch %d/%d  phase %d %s  lr %.3g  train loss %.4f  val loss %.4f  "
          "val mIoU %.2f%%  %.1f s  %.1f img/s  loader %.0f%%%s\n",
          e->epoch, e->epochs, e->phase, e->optimizer, e->lr, e->train_loss, e->val_loss,
          100.0 * e->val_miou, e->seconds, e->images_per_s, 100.0 * e->loader_share,
          (e->events & VG_TRAIN_EVENT_SAVE_BEST) ? "  [best]" : "");
  if (e->events & VG_TRAIN_EVENT_SWITCH_SGD)
    printf ("patience: no better val loss for a while; best weights (epoch %d) reloaded, "
            "switching to SGD at lr %.3g\n", s->best_loss_epoch, s->phase_lr);
  if (e->events & VG_TRAIN_EVENT_HALVE_LR)
    printf ("patience: best weights (epoch %d) reloaded, SGD rate halved to %.3g\n",
            s->best_loss_epoch, s->phase_lr);
  if (e->events & VG_TRAIN_EVENT_STOP)
    printf ("patience: stopping (best val loss %.4f at epoch %d)\n", s->best_loss,
            s->best_loss_epoch);
  fflush (stdout);
}

/* Sentinels: an option left at its sentinel was not given. */
#define UNSET_INT G_MININT
#define UNSET_DOUBLE (-HUGE_VAL)
#define UNSET_SEED G_MININT64

static gboolean
usage_error (int *status, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
usage_error (int *status, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "visage-cli train: %s\nRun 'visage-cli train --help' for usage.\n", message);
  *status = EXIT_USAGE;
  return FALSE;
}

int
vg_cli_train (int argc, char **argv)
{
  g_autofree char *config_name = NULL, *spec = NULL;
  g_autofree char *train = NULL, *train_images = NULL, *train_masks = NULL;
  g_autofree char *val = NULL, *val_images = NULL, *val_masks = NULL;
  g_autofree char *annotations = NULL, *val_annotations = NULL;
  g_autofree char *out = NULL, *resume = NULL, *init = NULL, *device = NULL;
  const VgBackend *backend;
  g_autofree char *loss = NULL, *optimizer = NULL, *select = NULL;
  int epochs = UNSET_INT, batch = UNSET_INT, resolution = UNSET_INT, workers = UNSET_INT;
  int threads = UNSET_INT, patience = UNSET_INT, cosine_t = UNSET_INT;
  int max_train = UNSET_INT, max_val = UNSET_INT;
  gint64 seed = UNSET_SEED;
  double lr = UNSET_DOUBLE, weight_decay = UNSET_DOUBLE, sgd_lr = UNSET_DOUBLE;
  double sgd_momentum = UNSET_DOUBLE, sgd_min_lr = UNSET_DOUBLE;
  double checkpoint_minutes = UNSET_DOUBLE;
  gboolean hflip = FALSE, no_augment = FALSE, skip_bad = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_STRING, &config_name,
      "Named configuration (visage-s, seed); default visage-s", "NAME" },
    { "spec", 's', 0, G_OPTION_ARG_STRING, &spec,
      "Custom configuration on top of --config, e.g. \"widths=16,32,128,192\"", "SPEC" },
    { "train", 0, 0, G_OPTION_ARG_FILENAME, &train,
      "Training split folder (images/ and masks/)", "DIR" },
    { "train-images", 0, 0, G_OPTION_ARG_FILENAME, &train_images,
      "Training images folder (with --train-masks)", "DIR" },
    { "train-masks", 0, 0, G_OPTION_ARG_FILENAME, &train_masks, "Training masks folder",
      "DIR" },
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &val, "Validation split folder", "DIR" },
    { "val-images", 0, 0, G_OPTION_ARG_FILENAME, &val_images,
      "Validation images folder (with --val-masks)", "DIR" },
    { "val-masks", 0, 0, G_OPTION_ARG_FILENAME, &val_masks, "Validation masks folder", "DIR" },
    { "annotations", 0, 0, G_OPTION_ARG_FILENAME, &annotations,
      "Corrected training masks (NAME.png) that override the training split's", "DIR" },
    { "val-annotations", 0, 0, G_OPTION_ARG_FILENAME, &val_annotations,
      "Corrected validation masks that override the validation split's", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      "Output folder: last.safetensors, best.safetensors, log.csv", "DIR" },
    { "resume", 0, 0, G_OPTION_ARG_FILENAME, &resume,
      "Continue the run in DIR with its own options (--epochs, --workers, --threads and "
      "--checkpoint-minutes may change)", "DIR" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "Epoch limit (100)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Batch size (8)", "N" },
    { "resolution", 'r', 0, G_OPTION_ARG_INT, &resolution,
      "Training size, a multiple of 32 (default: the images' own)", "N" },
    { "workers", 'j', 0, G_OPTION_ARG_INT, &workers, "Image decoding threads (2)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      "Compute threads (default: OMP_NUM_THREADS or all cores)", "N" },
    { "checkpoint-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &checkpoint_minutes,
      "Also save last.safetensors mid-epoch this often (10; 0: at epoch ends only)", "M" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (42)", "N" },
    { "loss", 0, 0, G_OPTION_ARG_STRING, &loss,
      "weighted-ce (default), ce, ce-dice, weighted-ce-dice, ce-dice-present, "
      "weighted-ce-dice-present", "NAME" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &optimizer,
      "pipeline (Adam then SGD, default), adam, adamw, sgd", "NAME" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam/AdamW learning rate (1e-3)", "X" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "Weight decay (1e-7)", "X" },
    { "patience", 0, 0, G_OPTION_ARG_INT, &patience,
      "Epochs without a better val loss before the optimiser changes (12; 0: never)", "N" },
    { "sgd-lr", 0, 0, G_OPTION_ARG_DOUBLE, &sgd_lr, "SGD's first learning rate (0.02)", "X" },
    { "sgd-momentum", 0, 0, G_OPTION_ARG_DOUBLE, &sgd_momentum, "SGD momentum (0.5)", "X" },
    { "sgd-min-lr", 0, 0, G_OPTION_ARG_DOUBLE, &sgd_min_lr,
      "Stop when the SGD rate would fall below this (0.005)", "X" },
    { "cosine-t", 0, 0, G_OPTION_ARG_INT, &cosine_t,
      "Cosine annealing period in epochs, to half the phase's rate (50; 0: constant)", "N" },
    { "select", 0, 0, G_OPTION_ARG_STRING, &select,
      "What makes best.safetensors: loss (default) or miou", "loss|miou" },
    VG_CLI_DEVICE_OPTION (device),
    { "init", 0, 0, G_OPTION_ARG_FILENAME, &init,
      "Start a new run from these weights (same configuration), e.g. a run at a lower "
      "resolution", "FILE" },
    { "hflip", 0, 0, G_OPTION_ARG_NONE, &hflip,
      "Random horizontal flips that swap left/right classes (the report has none)", NULL },
    { "no-augment", 0, 0, G_OPTION_ARG_NONE, &no_augment, "Train without augmentation", NULL },
    { "skip-bad", 0, 0, G_OPTION_ARG_NONE, &skip_bad,
      "Leave out unreadable or inconsistent samples with a notice", NULL },
    { "max-train", 0, 0, G_OPTION_ARG_INT, &max_train,
      "Use only the first N training images (quick runs)", "N" },
    { "max-val", 0, 0, G_OPTION_ARG_INT, &max_val,
      "Use only the first N validation images", "N" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  VgTrainOptions opts;
  VgTrainState state;
  VgTrainCallbacks callbacks = { on_message, on_step, on_validate, on_epoch, NULL };
  CliTrain cli = { 0 };
  int status = EXIT_OK;
  char size[32] = "native size";
  gboolean ok;

  if (!vg_cli_parse_options ("train", "train a model on a split (resumable)", entries, &argc,
                             &argv, &status))
    return status;
  if ((backend = vg_cli_backend ("train", device)) == NULL)
    return EXIT_USAGE;
  if (argc > 1)
    {
      usage_error (&status, "unexpected argument '%s'", argv[1]);
      return status;
    }

  if (resume != NULL)
    {
      /* A resumed run keeps its options: only what does not change the numbers may be set. */
      const struct {
        gboolean given;
        const char *name;
      } fixed[] = {
        { config_name != NULL, "--config" }, { spec != NULL, "--spec" },
        { train != NULL, "--train" }, { train_images != NULL, "--train-images" },
        { train_masks != NULL, "--train-masks" }, { val != NULL, "--val" },
        { val_images != NULL, "--val-images" }, { val_masks != NULL, "--val-masks" },
        { annotations != NULL, "--annotations" },
        { val_annotations != NULL, "--val-annotations" },
        { batch != UNSET_INT, "--batch" }, { resolution != UNSET_INT, "--resolution" },
        { seed != UNSET_SEED, "--seed" }, { loss != NULL, "--loss" },
        { optimizer != NULL, "--optimizer" }, { lr != UNSET_DOUBLE, "--lr" },
        { weight_decay != UNSET_DOUBLE, "--weight-decay" },
        { patience != UNSET_INT, "--patience" }, { sgd_lr != UNSET_DOUBLE, "--sgd-lr" },
        { sgd_momentum != UNSET_DOUBLE, "--sgd-momentum" },
        { sgd_min_lr != UNSET_DOUBLE, "--sgd-min-lr" },
        { cosine_t != UNSET_INT, "--cosine-t" }, { select != NULL, "--select" },
        { init != NULL, "--init" }, { hflip, "--hflip" }, { no_augment, "--no-augment" }, { skip_bad, "--skip-bad" },
        { max_train != UNSET_INT, "--max-train" }, { max_val != UNSET_INT, "--max-val" },
      };

      for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
        if (fixed[i].given)
          {
            usage_error (&status, "%s cannot be given with --resume: a resumed run continues "
                         "with its own options (only --epochs, --workers, --threads and "
                         "--checkpoint-minutes may change)", fixed[i].name);
            return status;
          }
      if (out != NULL && strcmp (out, resume) != 0)
        {
          usage_error (&status, "--out and --resume name different folders");
          return status;
        }
      if (!vg_train_options_load (&opts, resume, &error))
        {
          fprintf (stderr, "visage-cli train: %s\n", error->message);
          return EXIT_FAILURE_RUN;
        }
    }
  else
    {
      vg_train_options_init (&opts);
      if (train == NULL && (train_images == NULL || train_masks == NULL))
        usage_error (&status, "give the training data: --train DIR, or --train-images DIR "
                     "and --train-masks DIR");
      else if (val == NULL && (val_images == NULL || val_masks == NULL))
        usage_error (&status, "give the validation data: --val DIR, or --val-images DIR and "
                     "--val-masks DIR (the schedule follows the validation loss)");
      else if (out == NULL)
        usage_error (&status, "give the output folder: --out DIR");
      else if (seed != UNSET_SEED && seed < 0)
        usage_error (&status, "--seed must be 0 or more");
      else if (!vg_cli_resolve_config (&opts.config, config_name, spec, &error)
               || (loss != NULL && !vg_loss_kind_from_name (&opts.loss, loss, &error))
               || (optimizer != NULL
                   && !vg_optimizer_kind_from_name (&opts.optimizer, optimizer, &error))
               || (select != NULL && !vg_select_kind_from_name (&opts.select, select, &error)))
        usage_error (&status, "%s", error->message);
      if (status != EXIT_OK)
        return status;
      opts.train_dir = g_strdup (train);
      opts.train_images = g_strdup (train_images);
      opts.train_masks = g_strdup (train_masks);
      opts.val_dir = g_strdup (val);
      opts.val_images = g_strdup (val_images);
      opts.val_masks = g_strdup (val_masks);
      opts.train_annotations = g_strdup (annotations);
      opts.val_annotations = g_strdup (val_annotations);
      opts.out_dir = g_strdup (out);
      opts.init_from = g_strdup (init);
      if (batch != UNSET_INT)
        opts.batch = batch;
      if (resolution != UNSET_INT)
        opts.resolution = resolution;
      if (seed != UNSET_SEED)
        opts.seed = (uint64_t) seed;
      if (lr != UNSET_DOUBLE)
        opts.lr = lr;
      if (weight_decay != UNSET_DOUBLE)
        opts.weight_decay = weight_decay;
      if (patience != UNSET_INT)
        opts.patience = patience;
      if (sgd_lr != UNSET_DOUBLE)
        opts.sgd_lr = sgd_lr;
      if (sgd_momentum != UNSET_DOUBLE)
        opts.sgd_momentum = sgd_momentum;
      if (sgd_min_lr != UNSET_DOUBLE)
        opts.sgd_min_lr = sgd_min_lr;
      if (cosine_t != UNSET_INT)
        opts.cosine_t = cosine_t;
      if (max_train != UNSET_INT)
        opts.max_train = max_train;
      if (max_val != UNSET_INT)
        opts.max_val = max_val;
      opts.hflip = hflip;
      opts.augment = !no_augment;
      opts.skip_bad = skip_bad;
    }
  if (epochs != UNSET_INT)
    opts.epochs = epochs;
  if (workers != UNSET_INT)
    opts.workers = workers;
  if (threads != UNSET_INT)
    opts.threads = threads;
  if (checkpoint_minutes != UNSET_DOUBLE)
    opts.checkpoint_minutes = checkpoint_minutes;
  opts.backend = backend;

  if (opts.resolution > 0)
    g_snprintf (size, sizeof size, "%dx%d", opts.resolution, opts.resolution);
  fprintf (stderr, "training %s (%s) into %s: %s, %s loss, batch %d, %s, up to %d epochs\n",
           opts.config.name, resume != NULL ? "resumed" : "new run", opts.out_dir,
           vg_optimizer_kind_name (opts.optimizer), vg_loss_kind_name (opts.loss), opts.batch,
           size, opts.epochs);

  ok = vg_train_run (&opts, &callbacks, &cli, NULL, vg_cli_interrupt_cancellable (), &state,
                     &error);
  g_clear_pointer (&cli.progress, vg_cli_progress_free);
  if (!ok)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          if (state.epoch_step > 0)
            fprintf (stderr, "visage-cli train: interrupted; %s/last.safetensors holds step %d "
                     "of epoch %d (a mid-epoch checkpoint; later steps are dropped); continue "
                     "with: visage-cli train --resume %s\n", opts.out_dir, state.epoch_step,
                     state.epoch + 1, opts.out_dir);
          else if (state.epoch > 0)
            fprintf (stderr, "visage-cli train: interrupted; %s/last.safetensors holds epoch "
                     "%d (the epoch in progress is dropped); continue with: visage-cli train "
                     "--resume %s\n", opts.out_dir, state.epoch, opts.out_dir);
          else
            fprintf (stderr, "visage-cli train: interrupted before the first epoch ended; "
                     "nothing was saved\n");
          status = EXIT_INTERRUPTED;
        }
      else
        {
          fprintf (stderr, "visage-cli train: %s\n", error->message);
          /* an option value the engine refuses is a usage error, like GOption's own */
          status = g_error_matches (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID)
                     ? EXIT_USAGE : EXIT_FAILURE_RUN;
        }
    }
  else if (state.best_loss_epoch > 0)
    fprintf (stderr, "done after %d epochs%s: best val loss %.4f at epoch %d, best val mIoU "
             "%.2f%% at epoch %d; %s/best.safetensors is the best by %s\n", state.epoch,
             state.finished ? " (the schedule ended)" : "", state.best_loss,
             state.best_loss_epoch, 100.0 * state.best_miou, state.best_miou_epoch,
             opts.out_dir, vg_select_kind_name (opts.select));
  vg_train_options_clear (&opts);
  return status;
}
