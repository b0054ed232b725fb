/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared by the subcommands of visage-cli (one file each: cli-*.c). */
#pragma once

#include <stdio.h>

#include <glib.h>
#include <gio/gio.h>

#include "vg-backend.h"
#include "vg-compare.h"
#include "vg-config.h"
#include "vg-model.h"
#include "vg-predict.h"

enum { EXIT_OK = 0, EXIT_FAILURE_RUN = 1, EXIT_USAGE = 2 };

/* Parse a command's options with GOption; a usage error prints the reason and returns
 * FALSE with *status = EXIT_USAGE. */
gboolean vg_cli_parse_options (const char *name, const char *summary, GOptionEntry *entries,
                               int *argc, char ***argv, int *status);

/* The help of --config: the engine's configurations (vg_config_names), the default first. */
char *vg_cli_config_help (void);

/* The --config and --spec entries (bench, info); help from vg_cli_config_help. */
#define VG_CLI_CONFIG_OPTIONS(config_name, spec, help)                                     \
  { "config", 'c', 0, G_OPTION_ARG_STRING, &(config_name), (help), "NAME" },               \
  { "spec", 's', 0, G_OPTION_ARG_STRING, &(spec),                                          \
    "Custom configuration on top of --config, e.g. "                                       \
    "\"widths=16,32,128,192 ratios=8,4,2,1\"", "SPEC" }

/* --config NAME (default visage-s) plus an optional --spec on top, validated. */
gboolean vg_cli_resolve_config (VgConfig *cfg, const char *name, const char *spec,
                                GError **error);

/* Positional arguments refused: FALSE after printing "unexpected argument" (EXIT_USAGE). */
gboolean vg_cli_no_arguments (const char *command, int argc, char **argv);
/* vg_cli_parse_options for a command of options only: a positional argument is refused as
 * by vg_cli_no_arguments, with *status = EXIT_USAGE. */
gboolean vg_cli_parse_options_only (const char *name, const char *summary,
                                    GOptionEntry *entries, int *argc, char ***argv,
                                    int *status);

/* --device NAME, shared by the commands that run a model. */
#define VG_CLI_DEVICE_OPTION(var)                                                          \
  { "device", 0, 0, G_OPTION_ARG_STRING, &(var),                                          \
    "Compute device: auto (CUDA when a GPU is present, else the CPU), cuda or cpu", "NAME" }

/* The backend for --device (NULL: auto). An unknown name is a usage error (NULL returned,
 * message printed); cuda without a usable GPU falls back to the CPU with a notice. */
const VgBackend *vg_cli_backend (const char *command, const char *device);

/* --size "512", "512x384" (W x H; text NULL keeps *h and *w): positive pixel sizes up to
 * 16384, multiples of 32; FALSE after printing what is wrong. */
gboolean vg_cli_parse_size (const char *command, const char *text, int *h, int *w);

/* ---- progress on the terminal (cli-progress.c) ------------------------------------------
 * On a terminal (stderr is a tty): one line redrawn in place with a bar, rate and ETA, at
 * most ~10 times a second. Otherwise: a plain line every few seconds (and at the end), so
 * logs stay readable. */
typedef struct _VgCliProgress VgCliProgress;

VgCliProgress *vg_cli_progress_new (const char *label, int total, const char *unit);
/* done of total; extra (may be NULL) is appended, e.g. "loss 0.412  loader 3%". */
void vg_cli_progress_update (VgCliProgress *progress, int done, const char *extra);
/* Items done before this process took over (a resumed epoch): the rate and the time left
 * count only the rest. */
void vg_cli_progress_set_base (VgCliProgress *progress, int done_before);
/* Ends the line; summary (may be NULL) is printed after the label. */
void vg_cli_progress_finish (VgCliProgress *progress, const char *summary);
void vg_cli_progress_free (VgCliProgress *progress);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgCliProgress, vg_cli_progress_free)

/* ---- Ctrl-C ---------------------------------------------------------------------------
 * Installs SIGINT/SIGTERM handling once: the first signal cancels the returned cancellable
 * (from a helper thread, since GCancellable is not async-signal-safe) so long work stops
 * cleanly (training saves `last` first); a second signal exits at once, and so does the
 * first one if the process is still running after the grace period (work blocked where
 * the cancellable is never looked at), with status 128 + the signal's number. */
#define VG_CLI_INTERRUPT_GRACE_S 5
GCancellable *vg_cli_interrupt_cancellable (void);
/* The grace period in seconds (default VG_CLI_INTERRUPT_GRACE_S), for a command whose
 * clean stop takes longer (training finishes the step in progress). */
void vg_cli_interrupt_set_grace (int seconds);

/* ---- shared by the commands that run a model on images (cli-common.c) ---------------- */
#define EXIT_INTERRUPTED 130  /* the shell's convention for a SIGINT stop */
#define VG_CLI_DEFAULT_BATCH 4
#define VG_CLI_DEFAULT_WORKERS 2

/* --model FILE (default: the shipped model), and --batch, --workers, --flip of the commands
 * that predict (eval, predict, export-submission). */
#define VG_CLI_MODEL_OPTION(var)                                                           \
  { "model", 'm', 0, G_OPTION_ARG_FILENAME, &(var),                                        \
    "Model file (.safetensors), or a model shipped with Visage: visage-s (the default, "   \
    "accurate) or visage-fast (a Fast-SCNN, quick)", "FILE" }
#define VG_CLI_PREDICT_OPTIONS(batch, workers, flip)                                       \
  { "batch", 'b', 0, G_OPTION_ARG_INT, &(batch), "Images per forward pass (default 4)",    \
    "N" },                                                                                 \
  { "workers", 'j', 0, G_OPTION_ARG_INT, &(workers), "Decoding threads (default 2)",      \
    "N" },                                                                                 \
  { "flip", 0, 0, G_OPTION_ARG_NONE, &(flip),                                              \
    "Also run each image mirrored and average the two (test-time flip: twice the time)",   \
    NULL }

/* --precision of eval, predict and bench (its inference figures): fp32, or bf16 where the
 * processor has AVX512_BF16 (vg-gemm.h). */
#define VG_CLI_PRECISION_OPTION(var)                                                       \
  { "precision", 0, 0, G_OPTION_ARG_STRING, &(var),                                        \
    "Arithmetic of the layers' matrix products on the CPU: fp32 (default) or bf16 "        \
    "(operands rounded to bfloat16, float sums; processors with AVX512_BF16)", "P" }

/* Print "visage-cli COMMAND: message" (or "interrupted"); the exit status for the error. */
int vg_cli_fail (const char *command, const GError *error);
/* A progress callback of the engine for a VgCliProgress (data). */
void vg_cli_on_progress (int done, int total, gpointer data);
/* Whether lo <= value <= hi; FALSE after printing which option is out of range. */
gboolean vg_cli_check_range (const char *command, const char *option, int value, int lo,
                             int hi);
/* --batch and --workers each between 1 and 256; FALSE after printing which is not. */
gboolean vg_cli_check_batch_workers (const char *command, int batch, int workers);
/* Without --model (*model_path NULL): the model shipped with the program (visage-s); a
 * shipped model's name (visage-s, visage-fast) that names no file: that model. FALSE (with a
 * message) when the model wanted does not ship. */
gboolean vg_cli_default_model (const char *command, char **model_path);
/* The model file at path, and "model: PATH (config, resolution N)" on stderr. */
VgModel *vg_cli_open_model (const char *path, const VgBackend *be, VgPreprocess *pre,
                            GError **error);
/* Applies --precision (NULL: fp32); FALSE after printing why not (an unknown name, or bf16
 * on a processor without AVX512_BF16). */
gboolean vg_cli_set_precision (const char *command, const char *name);
/* A predictor of batch images at a time for model, with --flip or without. */
VgPredictor *vg_cli_predictor_new (VgModel *model, const VgPreprocess *pre, int batch,
                                   gboolean flip, GError **error);
/* JSON text: a string, quoted and escaped (NULL as null); a double in the shortest
 * round-trip form, or null when not finite (or negative, unless allow_negative). */
void vg_cli_json_string (GString *out, const char *s);
void vg_cli_json_number (GString *out, double v, gboolean allow_negative);

/* ---- shards of an array job (cli-shard.c) ----------------------------------------------
 * --shard I/N: NULL gives 0 of 1; otherwise FALSE after printing what is wrong. */
gboolean vg_cli_parse_shard (const char *command, const char *text, int *index, int *count);
/* eval --confusion: the shard's confusion matrix, image count and loss as a text file. */
gboolean vg_cli_write_confusion (const char *path, const VgEvalResult *result, int index,
                                 int count, gboolean has_loss, GError **error);
/* The per-class table of eval (IoU, F1, truth pixels, and with class_images the images and
 * missed columns) and the mIoU, mean F1 and pixel accuracy lines, on stdout (cli-eval.c). */
void vg_cli_print_class_table (const VgConfusion *cm, const int *class_images,
                               const int *class_missed);
/* eval's JSON members ",\n  "miou": ..." then mean_f1 and pixel_accuracy of cm. */
void vg_cli_json_scores (GString *out, const VgConfusion *cm);
/* eval's JSON from the end of the classes' array: the confusion matrix and its axes. */
void vg_cli_json_confusion (GString *out, const VgConfusion *cm);
/* eval --merge FILE...: the exact dataset-level figures of all the shards; the exit status. */
int vg_cli_eval_merge (char **paths, int n, const char *json_path);

/* ---- eval --compare (cli-compare.c) --------------------------------------------------- */
/* The two models compared: A (--model) and B (--compare). */
typedef struct {
  const char *path_a, *path_b;
  const VgPreprocess *pre_a, *pre_b;
  gboolean flip;
} VgCliCompared;
/* The per-class IoU of A and B and B - A in points, mIoU and pixel accuracy likewise, and
 * the top images each way by per-image mIoU (none when top is 0), on stdout. */
void vg_cli_print_comparison (const VgComparison *c, const VgEvalResult *a,
                              const VgEvalResult *b, const VgSplit *split, const char *path_a,
                              const char *path_b, int top);
/* The same as JSON, with the confusion difference and every image, B's gain first. */
GString *vg_cli_comparison_json (const VgComparison *c, const VgEvalResult *a,
                                 const VgEvalResult *b, const VgSplit *split,
                                 const VgCliCompared *models, int top);

/* ---- subcommands -------------------------------------------------------------------- */
int vg_cli_convert (int argc, char **argv);
int vg_cli_devices (int argc, char **argv);
int vg_cli_info (int argc, char **argv);
int vg_cli_train (int argc, char **argv);
int vg_cli_eval (int argc, char **argv);
int vg_cli_predict (int argc, char **argv);
int vg_cli_export_submission (int argc, char **argv);
int vg_cli_stats (int argc, char **argv);
int vg_cli_bench (int argc, char **argv);
int vg_cli_export_onnx (int argc, char **argv);
int vg_cli_classes (int argc, char **argv);
