/* SPDX-License-Identifier: GPL-3.0-or-later */
/* visage-cli train: the report's training method (engine/vg-train.h) on the command line.
 *
 * stdout gets one summary line per epoch; progress, notices and errors go to stderr.
 * Exit codes: 0 done, 1 failure, 2 usage (also option values the engine refuses),
 * 130 interrupted (Ctrl-C: the epoch in progress is abandoned, last.safetensors keeps the
 * previous one, and --resume continues). --recipe runs every stage of a recipe file
 * (engine/vg-recipe.h) in one folder; --resume continues such a run as a whole.
 * --distributed trains data-parallel under mpirun (engine/vg-dist.h): rank 0 prints and
 * writes; a rank that fails alone prints its error and ends every rank (vg_dist_abort). */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "visage-cli-private.h"
#include "vg-dist.h"
#include "vg-recipe.h"
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
  char comm[32] = "";

  if (c->progress != NULL)
    {
      vg_cli_progress_finish (c->progress, NULL);
      g_clear_pointer (&c->progress, vg_cli_progress_free);
    }
  c->validating = FALSE;
  if (vg_dist_size () > 1)
    g_snprintf (comm, sizeof comm, "  allreduce %.0f%%", 100.0 * e->comm_share);
  printf ("epoch %d/%d  phase %d %s  lr %.3g  train loss %.4f  val loss %.4f  "
          "val mIoU %.2f%%  %.1f s  %.1f img/s  loader %.0f%%%s  run CPU %.2f h%s\n",
          e->epoch, e->epochs, e->phase, e->optimizer, e->lr, e->train_loss, e->val_loss,
          100.0 * e->val_miou, e->seconds, e->images_per_s, 100.0 * e->loader_share, comm,
          s->cpu_seconds / 3600.0, (e->events & VG_TRAIN_EVENT_SAVE_BEST) ? "  [best]" : "");
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

/* The command line as given. */
typedef struct {
  char *config_name, *spec, *recipe;
  char *train, *train_images, *train_masks, *val, *val_images, *val_masks;
  char *annotations, *val_annotations;
  char *out, *resume, *init, *device;
  char *loss, *optimizer, *select;
  int epochs, batch, resolution, workers, threads, patience, cosine_t, max_train, max_val;
  gint64 seed;
  double lr, weight_decay, sgd_lr, sgd_momentum, sgd_min_lr, checkpoint_minutes;
  double ema, oversample, cosine_floor;
  gboolean hflip, no_augment, skip_bad, distributed;
} Args;

static void
args_clear (Args *a)
{
  char **strings[] = { &a->config_name, &a->spec, &a->recipe, &a->train, &a->train_images,
                       &a->train_masks, &a->val, &a->val_images, &a->val_masks,
                       &a->annotations, &a->val_annotations, &a->out, &a->resume, &a->init,
                       &a->device, &a->loss, &a->optimizer, &a->select };

  for (gsize i = 0; i < G_N_ELEMENTS (strings); i++)
    g_clear_pointer (strings[i], g_free);
}

static gboolean
usage_error (int *status, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
usage_error (int *status, const char *format, ...)
{
  va_list args;

  fprintf (stderr, "visage-cli train: ");
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fprintf (stderr, "\n");
  *status = EXIT_USAGE;
  return FALSE;
}

/* The help of the options that take one of the engine's names (vg-train.h), built from its
 * tables: the names in order, the default followed by " (note)". */
typedef struct {
  char *config, *loss, *optimizer, *select, *select_arg;
} NamesHelp;

static char *
choices_help (const char *prefix, const char *const *names, int default_kind,
              const char *note)
{
  GString *help = g_string_new (prefix);

  for (int i = 0; names[i] != NULL; i++)
    {
      g_string_append_printf (help, "%s%s", i > 0 ? ", " : "", names[i]);
      if (i == default_kind)
        g_string_append_printf (help, " (%s)", note);
    }
  return g_string_free (help, FALSE);
}

static NamesHelp
names_help_new (void)
{
  VgTrainOptions defaults;
  NamesHelp h;

  vg_train_options_init (&defaults);
  h.config = vg_cli_config_help ();
  h.loss = choices_help ("", vg_loss_kind_names (), defaults.loss, "default");
  h.optimizer = choices_help ("", vg_optimizer_kind_names (), defaults.optimizer,
                              "Adam then SGD, default");
  h.select = choices_help ("What makes best.safetensors: ", vg_select_kind_names (),
                           defaults.select, "default");
  h.select_arg = g_strjoinv ("|", (char **) vg_select_kind_names ());
  vg_train_options_clear (&defaults);
  return h;
}

static void
names_help_clear (NamesHelp *h)
{
  g_free (h->loss);
  g_free (h->config);
  g_free (h->optimizer);
  g_free (h->select);
  g_free (h->select_arg);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NamesHelp, names_help_clear)

/* Parse the command line into a (the sentinels where an option is not given). */
static gboolean
parse_args (Args *a, int *argc, char ***argv, int *status)
{
  g_auto (NamesHelp) help = names_help_new ();
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_STRING, &a->config_name, help.config, "NAME" },
    { "spec", 's', 0, G_OPTION_ARG_STRING, &a->spec,
      "Custom configuration on top of --config, e.g. \"widths=16,32,128,192\"", "SPEC" },
    { "recipe", 0, 0, G_OPTION_ARG_FILENAME, &a->recipe,
      "Run every stage of a training recipe: a NAME shipped in data/models (visage-s, "
      "visage-fast) or a "
      "FILE; continue it with --resume", "NAME|FILE" },
    { "train", 0, 0, G_OPTION_ARG_FILENAME, &a->train,
      "Training split folder (images/ and masks/)", "DIR" },
    { "train-images", 0, 0, G_OPTION_ARG_FILENAME, &a->train_images,
      "Training images folder (with --train-masks)", "DIR" },
    { "train-masks", 0, 0, G_OPTION_ARG_FILENAME, &a->train_masks, "Training masks folder",
      "DIR" },
    { "val", 0, 0, G_OPTION_ARG_FILENAME, &a->val, "Validation split folder", "DIR" },
    { "val-images", 0, 0, G_OPTION_ARG_FILENAME, &a->val_images,
      "Validation images folder (with --val-masks)", "DIR" },
    { "val-masks", 0, 0, G_OPTION_ARG_FILENAME, &a->val_masks, "Validation masks folder",
      "DIR" },
    { "annotations", 0, 0, G_OPTION_ARG_FILENAME, &a->annotations,
      "Corrected training masks (NAME.png) that override the training split's", "DIR" },
    { "val-annotations", 0, 0, G_OPTION_ARG_FILENAME, &a->val_annotations,
      "Corrected validation masks that override the validation split's", "DIR" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &a->out,
      "Output folder: last.safetensors, best.safetensors, log.csv", "DIR" },
    { "resume", 0, 0, G_OPTION_ARG_FILENAME, &a->resume,
      "Continue the run (or recipe run) in DIR with its own options (--epochs, --workers, "
      "--threads and --checkpoint-minutes may change; --epochs not for a recipe)", "DIR" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &a->epochs, "Epoch limit (100)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &a->batch, "Batch size (8)", "N" },
    { "resolution", 'r', 0, G_OPTION_ARG_INT, &a->resolution,
      "Training size, a multiple of 32 (default: the images' own)", "N" },
    { "workers", 'j', 0, G_OPTION_ARG_INT, &a->workers, "Image decoding threads (2)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &a->threads,
      "Compute threads (default: OMP_NUM_THREADS or all cores)", "N" },
    { "checkpoint-minutes", 0, 0, G_OPTION_ARG_DOUBLE, &a->checkpoint_minutes,
      "Also save last.safetensors mid-epoch this often (10; 0: at epoch ends only)", "M" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &a->seed, "Random seed (42)", "N" },
    { "loss", 0, 0, G_OPTION_ARG_STRING, &a->loss, help.loss, "NAME" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &a->optimizer, help.optimizer, "NAME" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &a->lr, "Adam/AdamW learning rate (1e-3)", "X" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &a->weight_decay, "Weight decay (1e-7)",
      "X" },
    { "patience", 0, 0, G_OPTION_ARG_INT, &a->patience,
      "Epochs without a better val loss before the optimiser changes (12; 0: never)", "N" },
    { "sgd-lr", 0, 0, G_OPTION_ARG_DOUBLE, &a->sgd_lr, "SGD's first learning rate (0.02)",
      "X" },
    { "sgd-momentum", 0, 0, G_OPTION_ARG_DOUBLE, &a->sgd_momentum, "SGD momentum (0.5)",
      "X" },
    { "sgd-min-lr", 0, 0, G_OPTION_ARG_DOUBLE, &a->sgd_min_lr,
      "Stop when the SGD rate would fall below this (0.005)", "X" },
    { "cosine-t", 0, 0, G_OPTION_ARG_INT, &a->cosine_t,
      "Cosine annealing period in epochs, down to --cosine-floor times the phase's rate (50; "
      "0: constant)", "N" },
    { "cosine-floor", 0, 0, G_OPTION_ARG_DOUBLE, &a->cosine_floor,
      "Where the cosine ends, as a fraction of the phase's rate (0.5, the report's; 0: zero)",
      "F" },
    { "select", 0, 0, G_OPTION_ARG_STRING, &a->select, help.select,
      help.select_arg },
    { "ema", 0, 0, G_OPTION_ARG_DOUBLE, &a->ema,
      "Validate and keep a moving average of the weights with this decay, e.g. 0.999 "
      "(0: none, the default)", "D" },
    { "oversample", 0, 0, G_OPTION_ARG_DOUBLE, &a->oversample,
      "Repeat the images of classes found in fewer than a fraction T of the training images "
      "sqrt(T / fraction) times an epoch, e.g. 0.1 (0: none, the default)", "T" },
    VG_CLI_DEVICE_OPTION (a->device),
    { "init", 0, 0, G_OPTION_ARG_FILENAME, &a->init,
      "Start a new run from these weights (same configuration), e.g. a run at a lower "
      "resolution", "FILE" },
    { "hflip", 0, 0, G_OPTION_ARG_NONE, &a->hflip,
      "Random horizontal flips that swap left/right classes (the report has none)", NULL },
    { "no-augment", 0, 0, G_OPTION_ARG_NONE, &a->no_augment, "Train without augmentation",
      NULL },
    { "skip-bad", 0, 0, G_OPTION_ARG_NONE, &a->skip_bad,
      "Leave out unreadable or inconsistent samples with a notice", NULL },
    { "max-train", 0, 0, G_OPTION_ARG_INT, &a->max_train,
      "Use only the first N training images (quick runs)", "N" },
    { "max-val", 0, 0, G_OPTION_ARG_INT, &a->max_val,
      "Use only the first N validation images", "N" },
    { "distributed", 0, 0, G_OPTION_ARG_NONE, &a->distributed,
      "Data-parallel over the ranks of mpirun: each takes batch / ranks images of every "
      "batch (needs a build with MPI)", NULL },
    { NULL }
  };

  a->epochs = a->batch = a->resolution = a->workers = a->threads = UNSET_INT;
  a->patience = a->cosine_t = a->max_train = a->max_val = UNSET_INT;
  a->seed = UNSET_SEED;
  a->lr = a->weight_decay = a->sgd_lr = a->sgd_momentum = a->sgd_min_lr = UNSET_DOUBLE;
  a->checkpoint_minutes = a->ema = a->oversample = a->cosine_floor = UNSET_DOUBLE;
  if (!vg_cli_parse_options ("train", "train a model on a split (resumable)", entries, argc,
                             argv, status))
    return FALSE;
  if (*argc > 1)
    return usage_error (status, "unexpected argument '%s'", (*argv)[1]);
  return TRUE;
}

/* Refuse every option that sets what a run's own record (or a recipe) fixes; `why` ends the
 * message. data: the data options (folders, limits) are refused too; epochs: --epochs may
 * be given. */
static gboolean
check_not_given (const Args *a, gboolean data, gboolean epochs, const char *why, int *status)
{
  const struct {
    gboolean given;
    gboolean data;
    const char *name;
  } fixed[] = {
    { a->config_name != NULL, FALSE, "--config" }, { a->spec != NULL, FALSE, "--spec" },
    { a->train != NULL, TRUE, "--train" }, { a->train_images != NULL, TRUE, "--train-images" },
    { a->train_masks != NULL, TRUE, "--train-masks" }, { a->val != NULL, TRUE, "--val" },
    { a->val_images != NULL, TRUE, "--val-images" },
    { a->val_masks != NULL, TRUE, "--val-masks" },
    { a->annotations != NULL, TRUE, "--annotations" },
    { a->val_annotations != NULL, TRUE, "--val-annotations" },
    { a->batch != UNSET_INT, FALSE, "--batch" },
    { a->resolution != UNSET_INT, FALSE, "--resolution" },
    { a->seed != UNSET_SEED, FALSE, "--seed" }, { a->loss != NULL, FALSE, "--loss" },
    { a->optimizer != NULL, FALSE, "--optimizer" }, { a->lr != UNSET_DOUBLE, FALSE, "--lr" },
    { a->weight_decay != UNSET_DOUBLE, FALSE, "--weight-decay" },
    { a->patience != UNSET_INT, FALSE, "--patience" },
    { a->sgd_lr != UNSET_DOUBLE, FALSE, "--sgd-lr" },
    { a->sgd_momentum != UNSET_DOUBLE, FALSE, "--sgd-momentum" },
    { a->sgd_min_lr != UNSET_DOUBLE, FALSE, "--sgd-min-lr" },
    { a->cosine_t != UNSET_INT, FALSE, "--cosine-t" },
    { a->cosine_floor != UNSET_DOUBLE, FALSE, "--cosine-floor" },
    { a->select != NULL, FALSE, "--select" }, { a->init != NULL, FALSE, "--init" },
    { a->ema != UNSET_DOUBLE, FALSE, "--ema" },
    { a->oversample != UNSET_DOUBLE, FALSE, "--oversample" },
    { a->hflip, FALSE, "--hflip" }, { a->no_augment, FALSE, "--no-augment" },
    { a->skip_bad, TRUE, "--skip-bad" }, { a->max_train != UNSET_INT, TRUE, "--max-train" },
    { a->max_val != UNSET_INT, TRUE, "--max-val" },
    { a->epochs != UNSET_INT && !epochs, FALSE, "--epochs" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (fixed); i++)
    if (fixed[i].given && (data || !fixed[i].data))
      return usage_error (status, "%s cannot be given %s", fixed[i].name, why);
  return TRUE;
}

/* The options of a new run from the command line. */
static gboolean
new_run_options (const Args *a, VgTrainOptions *o, int *status)
{
  g_autoptr (GError) error = NULL;

  vg_train_options_init (o);
  if (a->train == NULL && (a->train_images == NULL || a->train_masks == NULL))
    return usage_error (status, "give the training data: --train DIR, or --train-images DIR "
                        "and --train-masks DIR");
  if (a->val == NULL && (a->val_images == NULL || a->val_masks == NULL))
    return usage_error (status, "give the validation data: --val DIR, or --val-images DIR "
                        "and --val-masks DIR (the schedule follows the validation loss)");
  if (a->out == NULL)
    return usage_error (status, "give the output folder: --out DIR");
  if (a->seed != UNSET_SEED && a->seed < 0)
    return usage_error (status, "--seed must be 0 or more");
  if (!vg_cli_resolve_config (&o->config, a->config_name, a->spec, &error)
      || (a->loss != NULL && !vg_loss_kind_from_name (&o->loss, a->loss, &error))
      || (a->optimizer != NULL
          && !vg_optimizer_kind_from_name (&o->optimizer, a->optimizer, &error))
      || (a->select != NULL && !vg_select_kind_from_name (&o->select, a->select, &error)))
    return usage_error (status, "%s", error->message);
  o->train_dir = g_strdup (a->train);
  o->train_images = g_strdup (a->train_images);
  o->train_masks = g_strdup (a->train_masks);
  o->val_dir = g_strdup (a->val);
  o->val_images = g_strdup (a->val_images);
  o->val_masks = g_strdup (a->val_masks);
  o->train_annotations = g_strdup (a->annotations);
  o->val_annotations = g_strdup (a->val_annotations);
  o->out_dir = g_strdup (a->out);
  o->init_from = g_strdup (a->init);
#define SET(field, unset) if (a->field != (unset)) o->field = a->field
  SET (batch, UNSET_INT);
  SET (resolution, UNSET_INT);
  SET (lr, UNSET_DOUBLE);
  SET (weight_decay, UNSET_DOUBLE);
  SET (patience, UNSET_INT);
  SET (sgd_lr, UNSET_DOUBLE);
  SET (sgd_momentum, UNSET_DOUBLE);
  SET (sgd_min_lr, UNSET_DOUBLE);
  SET (cosine_t, UNSET_INT);
  SET (cosine_floor, UNSET_DOUBLE);
  SET (ema, UNSET_DOUBLE);
  SET (oversample, UNSET_DOUBLE);
  SET (max_train, UNSET_INT);
  SET (max_val, UNSET_INT);
#undef SET
  if (a->seed != UNSET_SEED)
    o->seed = (uint64_t) a->seed;
  o->hflip = a->hflip;
  o->augment = !a->no_augment;
  o->skip_bad = a->skip_bad;
  return TRUE;
}

/* What may change on any run: the epoch limit (not for recipes), threads, checkpoints. */
static void
apply_mutable (const Args *a, VgTrainOptions *o, const VgBackend *backend)
{
  if (a->epochs != UNSET_INT)
    o->epochs = a->epochs;
  if (a->workers != UNSET_INT)
    o->workers = a->workers;
  if (a->threads != UNSET_INT)
    o->threads = a->threads;
  if (a->checkpoint_minutes != UNSET_DOUBLE)
    o->checkpoint_minutes = a->checkpoint_minutes;
  o->backend = backend;
  o->distributed = a->distributed;
}

static void
announce (const VgTrainOptions *o, const char *how)
{
  char size[32] = "native size";

  if (vg_dist_rank () > 0)
    return; /* rank 0 speaks for a distributed run */
  if (o->resolution > 0)
    g_snprintf (size, sizeof size, "%dx%d", o->resolution, o->resolution);
  fprintf (stderr, "training %s (%s) into %s: %s, %s loss, batch %d, %s, up to %d epochs\n",
           o->config.name, how, o->out_dir, vg_optimizer_kind_name (o->optimizer),
           vg_loss_kind_name (o->loss), o->batch, size, o->epochs);
  if (o->distributed)
    fprintf (stderr, "distributed over %d ranks: %d images of every batch each\n",
             vg_dist_size (), o->batch / MAX (vg_dist_size (), 1));
}

/* The exit status of a run, and what to tell about it. resume_dir: what --resume takes. */
static int
report_end (gboolean ok, const GError *error, const VgTrainState *state,
            const VgTrainOptions *o, const char *resume_dir)
{
  if (!ok && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      if (state->epoch_step > 0)
        fprintf (stderr, "visage-cli train: interrupted; %s/last.safetensors holds step %d "
                 "of epoch %d (a mid-epoch checkpoint; later steps are dropped); continue "
                 "with: visage-cli train --resume %s\n", o->out_dir, state->epoch_step,
                 state->epoch + 1, resume_dir);
      else if (state->epoch > 0)
        fprintf (stderr, "visage-cli train: interrupted; %s/last.safetensors holds epoch "
                 "%d (the epoch in progress is dropped); continue with: visage-cli train "
                 "--resume %s\n", o->out_dir, state->epoch, resume_dir);
      else
        fprintf (stderr, "visage-cli train: interrupted before the first epoch ended; "
                 "nothing was saved\n");
      return EXIT_INTERRUPTED;
    }
  if (!ok)
    {
      fprintf (stderr, "visage-cli train: %s\n", error->message);
      /* an option value the engine refuses is a usage error, like GOption's own */
      return g_error_matches (error, VG_TRAIN_ERROR, VG_TRAIN_ERROR_INVALID) ? EXIT_USAGE
                                                                           : EXIT_FAILURE_RUN;
    }
  if (state->best_loss_epoch > 0 && vg_dist_rank () == 0)
    fprintf (stderr, "done after %d epochs%s: best val loss %.4f at epoch %d, best val mIoU "
             "%.2f%% at epoch %d; %s/best.safetensors is the best by %s\n", state->epoch,
             state->finished ? " (the schedule ended)" : "", state->best_loss,
             state->best_loss_epoch, 100.0 * state->best_miou, state->best_miou_epoch,
             o->out_dir, vg_select_kind_name (o->select));
  return EXIT_OK;
}

typedef struct {
  CliTrain cli;             /* first: the training callbacks take the same pointer */
  const VgRecipe *recipe;
  VgTrainOptions stage;     /* the options of the stage running */
} CliRecipe;

static void
on_stage (int stage, const VgTrainOptions *o, gpointer data)
{
  CliRecipe *r = data;
  g_autofree char *how = g_strdup_printf ("stage %d of %d of recipe %s, %s", stage + 1,
                                          vg_recipe_get_n_stages (r->recipe),
                                          vg_recipe_get_name (r->recipe),
                                          o->resume ? "resumed" : "new");

  vg_train_options_clear (&r->stage);
  vg_train_options_copy (&r->stage, o);
  announce (o, how);
}

/* --recipe, or --resume of a recipe run. */
static int
train_recipe (const Args *a, const VgBackend *backend)
{
  const VgTrainCallbacks callbacks = { on_message, on_step, on_validate, on_epoch, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgRecipe) recipe = NULL;
  g_autofree char *path = NULL;
  CliRecipe r = { 0 };
  VgTrainOptions base;
  VgTrainState state = { 0 };
  int status = EXIT_OK;
  gboolean ok;

  if (a->resume != NULL)
    {
      if (!check_not_given (a, TRUE, FALSE, "with --resume of a recipe run: its recipe and "
                            "data are in its recipe.ini (only --workers, --threads and "
                            "--checkpoint-minutes may change)", &status))
        return status;
      if ((recipe = vg_recipe_load_run (a->resume, &base, &error)) == NULL)
        {
          fprintf (stderr, "visage-cli train: %s\n", error->message);
          return EXIT_FAILURE_RUN;
        }
    }
  else
    {
      if (!check_not_given (a, FALSE, FALSE, "with --recipe: the recipe sets it", &status))
        return status;
      if ((path = vg_recipe_find (a->recipe)) == NULL)
        {
          usage_error (&status, "no recipe “%s” (a file, or a name shipped in data/models "
                       "such as visage-s)", a->recipe);
          return status;
        }
      if ((recipe = vg_recipe_load (path, &error)) == NULL)
        {
          usage_error (&status, "%s", error->message);
          return status;
        }
      if (!new_run_options (a, &base, &status))
        {
          vg_train_options_clear (&base);
          return status;
        }
    }
  apply_mutable (a, &base, backend);
  r.recipe = recipe;
  vg_train_options_init (&r.stage);
  ok = vg_recipe_run (recipe, &base, on_stage, vg_dist_rank () == 0 ? &callbacks : NULL, &r,
                      NULL, vg_cli_interrupt_cancellable (), &state, &error);
  g_clear_pointer (&r.cli.progress, vg_cli_progress_free);
  status = report_end (ok, error, &state, &r.stage, base.out_dir);
  if (ok && vg_dist_rank () == 0)
    fprintf (stderr, "recipe %s done: its model is %s/best.safetensors\n",
             vg_recipe_get_name (recipe), r.stage.out_dir);
  vg_train_options_clear (&r.stage);
  vg_train_options_clear (&base);
  return status;
}

/* The command once its arguments are parsed. */
static int
train_command (Args *a)
{
  const VgTrainCallbacks callbacks = { on_message, on_step, on_validate, on_epoch, NULL };
  g_autoptr (GError) error = NULL;
  const VgBackend *backend;
  VgTrainOptions opts;
  VgTrainState state = { 0 };
  CliTrain cli = { 0 };
  int status = EXIT_OK;
  gboolean ok;

  /* A clean stop finishes the step in progress, which takes seconds on a CPU at 512. */
  vg_cli_interrupt_set_grace (30);
  if ((backend = vg_cli_backend ("train", a->device)) == NULL)
    return EXIT_USAGE;
  if (a->out != NULL && a->resume != NULL && strcmp (a->out, a->resume) != 0)
    {
      usage_error (&status, "--out and --resume name different folders");
      return status;
    }
  if (a->recipe != NULL && a->resume != NULL)
    {
      usage_error (&status, "--recipe starts a recipe run; --resume alone continues one");
      return status;
    }
  if (a->recipe != NULL || (a->resume != NULL && vg_recipe_is_run (a->resume)))
    return train_recipe (a, backend);

  if (a->resume != NULL)
    {
      /* A resumed run keeps its options: only what does not change the numbers may be set. */
      if (!check_not_given (a, TRUE, TRUE, "with --resume: a resumed run continues with its "
                            "own options (only --epochs, --workers, --threads and "
                            "--checkpoint-minutes may change)", &status))
        return status;
      if (!vg_train_options_load (&opts, a->resume, &error))
        {
          fprintf (stderr, "visage-cli train: %s\n", error->message);
          return EXIT_FAILURE_RUN;
        }
    }
  else if (!new_run_options (a, &opts, &status))
    {
      vg_train_options_clear (&opts);
      return status;
    }
  apply_mutable (a, &opts, backend);
  announce (&opts, a->resume != NULL ? "resumed" : "new run");
  ok = vg_train_run (&opts, vg_dist_rank () == 0 ? &callbacks : NULL, &cli, NULL,
                     vg_cli_interrupt_cancellable (), &state, &error);
  g_clear_pointer (&cli.progress, vg_cli_progress_free);
  status = report_end (ok, error, &state, &opts, opts.out_dir);
  vg_train_options_clear (&opts);
  return status;
}

int
vg_cli_train (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  Args a = { 0 };
  int status = EXIT_OK;

  if (parse_args (&a, &argc, &argv, &status))
    {
      if (a.distributed && !vg_dist_init (&error))
        usage_error (&status, "%s", error->message);
      else
        status = train_command (&a);
    }
  /* A rank that failed alone would leave the others waiting in a collective for it: its
   * error (printed above) ends them all. Failures the ranks agreed on end each in step. A
   * rank stopped by a signal (Ctrl-C, or the launcher ending the run) leaves without a
   * word to the others, which the launcher stops too: finalizing could wait for them. */
  if (status == EXIT_INTERRUPTED && vg_dist_size () > 1)
    {
      args_clear (&a);
      return status;
    }
  if (status != EXIT_OK && vg_dist_size () > 1 && !vg_dist_stopped_together ())
    vg_dist_abort (status, "this rank failed (see above): stopping the run's other ranks");
  vg_dist_finalize ();
  args_clear (&a);
  return status;
}
