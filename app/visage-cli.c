/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "visage-cli"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "visage-cli.h"
#include "visage-cli-private.h"
#include "vg-config.h"
#include "vg-device.h"
#include "vg-model.h"
#include "vg-predict.h"
#include "vg-safetensors.h"


typedef struct {
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} VisageCliCommand;

static const VisageCliCommand commands[] = {
  { "train", "train a model on a split (resumable)", vg_cli_train },
  { "eval", "evaluate a model on a split: mIoU, per-class IoU and F1", vg_cli_eval },
  { "predict", "write predicted masks (palette PNGs) for images", vg_cli_predict },
  { "export-submission", "zip of grey index PNGs for a folder of images",
    vg_cli_export_submission },
  { "stats", "mean, std and class frequencies of a split (cached)", vg_cli_stats },
  { "bench", "training and inference speed of a configuration", vg_cli_bench },
  { "info", "print a model configuration's layers, parameters and MACs", vg_cli_info },
  { "devices", "list the compute devices the engine can use", vg_cli_devices },
  { "convert", "write a model file with its weights in F16 (half the size)", vg_cli_convert },
  { "export-onnx", "write a model as an ONNX graph (opset 17)", vg_cli_export_onnx },
  { "classes", "list the 19 classes: id, name, colour, left/right partner", vg_cli_classes },
};

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: visage-cli [--help] [--version] COMMAND [ARGS...]\n"
           "\n"
           "Headless face parsing tool of Visage: the same engine as the workbench.\n"
           "\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n"
           "Options:\n"
           "  -h, --help     show this help and exit\n"
           "  -V, --version  show the version and the compute backends, and exit\n"
           "\n"
           "Run 'visage-cli COMMAND --help' for a command's options.\n");
}

static void
print_version (void)
{
  char devices[512];

  vg_device_describe (devices, sizeof devices);
  printf ("visage-cli %s\n", PACKAGE_VERSION);
  printf ("CUDA backend compiled: %s\n", vg_device_cuda_compiled () ? "yes" : "no");
  printf ("Compute: %s\n", devices);
}

/* Usage lines then read "visage-cli COMMAND [OPTION...]". */
static void
set_command_prgname (const char *name)
{
  g_autofree char *prgname = g_strdup_printf ("visage-cli %s", name);

  if (g_get_prgname () == NULL)
    g_set_prgname (prgname);
}

/* Parse a command's options with GOption; a usage error prints the reason and help. */
gboolean
vg_cli_parse_options (const char *name, const char *summary, GOptionEntry *entries,
                       int *argc, char ***argv, int *status)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *parameter = g_strdup_printf ("- %s", summary);

  context = g_option_context_new (parameter);
  g_option_context_set_summary (context, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  set_command_prgname (name);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      fprintf (stderr, "visage-cli %s: %s\n", name, error->message);
      fprintf (stderr, "Run 'visage-cli %s --help' for usage.\n", name);
      *status = EXIT_USAGE;
      return FALSE;
    }
  return TRUE;
}

gboolean
vg_cli_no_arguments (const char *command, int argc, char **argv)
{
  if (argc > 1)
    {
      fprintf (stderr, "visage-cli %s: unexpected argument '%s'\n", command, argv[1]);
      return FALSE;
    }
  return TRUE;
}

gboolean
vg_cli_parse_options_only (const char *name, const char *summary, GOptionEntry *entries,
                           int *argc, char ***argv, int *status)
{
  if (!vg_cli_parse_options (name, summary, entries, argc, argv, status))
    return FALSE;
  if (vg_cli_no_arguments (name, *argc, *argv))
    return TRUE;
  *status = EXIT_USAGE;
  return FALSE;
}

int
vg_cli_devices (int argc, char **argv)
{
  char why[256] = "";
  int status = EXIT_OK;
  int n;

  if (!vg_cli_parse_options_only ("devices", "list the compute devices", NULL, &argc, &argv,
                                  &status))
    return status;

  printf ("cpu: %d hardware threads (OpenBLAS + OpenMP)\n", g_get_num_processors ());
  n = vg_device_cuda_count (why, sizeof why);
  if (n > 0)
    printf ("cuda: %d device%s\n", n, n == 1 ? "" : "s");
  else
    printf ("cuda: unavailable (%s)\n", why);
  return EXIT_OK;
}

char *
vg_cli_config_help (void)
{
  const char *const *names = vg_config_names ();
  g_autofree char *others = g_strjoinv (", ", (char **) names + 1);

  return g_strdup_printf ("Named configuration: %s (default), %s", names[0], others);
}

/* Resolve --config NAME and --spec "key=..." into a validated configuration. */
gboolean
vg_cli_resolve_config (VgConfig *cfg, const char *name, const char *spec, GError **error)
{
  if (!vg_config_from_name (cfg, name != NULL ? name : vg_config_names ()[0], error))
    return FALSE;
  if (spec != NULL && !vg_config_parse (cfg, spec, error))
    return FALSE;
  return vg_config_validate (cfg, error);
}

const VgBackend *
vg_cli_backend (const char *command, const char *device)
{
  char why[512] = "";
  const char *name = device != NULL ? device : "auto";
  const VgBackend *be = vg_backend_for_device (name, why, sizeof why);

  if (be == NULL)
    {
      fprintf (stderr, "visage-cli %s: unknown device '%s' (choose auto, cuda or cpu)\n",
               command, name);
      return NULL;
    }
  /* Falling back is news only when CUDA was asked for by name. */
  if (why[0] != '\0' && strcmp (name, "cuda") == 0)
    fprintf (stderr, "visage-cli %s: %s\n", command, why);
  return be;
}

static gboolean
parse_size (const char *text, int *h, int *w)
{
  char *end = NULL;
  long a = strtol (text, &end, 10), b = a;

  if (end == text)
    return FALSE;
  if (*end == 'x' || *end == 'X')
    {
      const char *second = end + 1;
      b = strtol (second, &end, 10);
      if (end == second)
        return FALSE;
    }
  if (*end != '\0' || a <= 0 || b <= 0 || a > 16384 || b > 16384)
    return FALSE;
  *w = (int) a;
  *h = (int) b;
  return TRUE;
}

gboolean
vg_cli_parse_size (const char *command, const char *text, int *h, int *w)
{
  if (text != NULL && !parse_size (text, h, w))
    {
      fprintf (stderr, "visage-cli %s: --size '%s' is not WxH or N (positive pixels)\n", command,
               text);
      return FALSE;
    }
  if (*h % 32 != 0 || *w % 32 != 0)
    {
      fprintf (stderr, "visage-cli %s: the input size must be a multiple of 32, not %dx%d\n",
               command, *w, *h);
      return FALSE;
    }
  return TRUE;
}

int
vg_cli_info (int argc, char **argv)
{
  g_autofree char *config_help = vg_cli_config_help ();
  g_autofree char *config_name = NULL;
  g_autofree char *spec = NULL;
  g_autofree char *size = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree VgLayerInfo *rows = NULL;
  g_autofree char *spec_text = NULL;
  GOptionEntry entries[] = {
    VG_CLI_CONFIG_OPTIONS (config_name, spec, config_help),
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "Input size WxH or N (default 512)", "SIZE" },
    { NULL }
  };
  int status = EXIT_OK, n, h = 512, w = 512, name_width = 42;
  double total_macs = 0;
  size_t total_params = 0;
  VgConfig cfg;

  if (!vg_cli_parse_options_only ("info", "print a configuration's layers", entries, &argc, &argv,
                                  &status))
    return status;
  if (!vg_cli_parse_size ("info", size, &h, &w))
    return EXIT_USAGE;
  if (!vg_cli_resolve_config (&cfg, config_name, spec, &error))
    {
      fprintf (stderr, "visage-cli info: %s\n", error->message);
      return EXIT_USAGE;
    }

  spec_text = vg_config_to_string (&cfg);
  n = vg_model_describe (&cfg, h, w, NULL, 0);
  rows = g_new0 (VgLayerInfo, n);
  vg_model_describe (&cfg, h, w, rows, n);

  /* The layer column as wide as the longest name (a baseline's reach about 80 characters). */
  for (int i = 0; i < n; i++)
    name_width = MAX (name_width, (int) strlen (rows[i].name));
  printf ("configuration: %s\n%s\n\n", cfg.name, spec_text);
  printf ("%-*s %-18s %12s %14s\n", name_width, "layer", "output (HxWxC)", "parameters",
          "MACs");
  for (int i = 0; i < n; i++)
    {
      char shape[32];
      snprintf (shape, sizeof shape, "%dx%dx%d", rows[i].shape[1], rows[i].shape[2],
                rows[i].shape[3]);
      printf ("%-*s %-18s %12zu %14.0f\n", name_width, rows[i].name, shape, rows[i].params,
              rows[i].macs);
      total_params += rows[i].params;
      total_macs += rows[i].macs;
    }
  printf ("\n");
  printf ("trainable parameters: %zu\n", vg_config_count_params (&cfg));
  printf ("multiply-accumulates for a %dx%d input: %.0f (%.2f GMAC)\n", w, h, total_macs,
          total_macs / 1e9);
  if (total_params != vg_config_count_params (&cfg))
    {
      fprintf (stderr, "visage-cli info: internal error: layer table sums to %zu parameters\n",
               total_params);
      return EXIT_FAILURE_RUN;
    }
  return EXIT_OK;
}

int
visage_cli_main (int argc, char **argv)
{
  const char *name;

  if (argc < 2)
    {
      print_usage (stderr);
      return EXIT_USAGE;
    }

  name = argv[1];
  if (strcmp (name, "-h") == 0 || strcmp (name, "--help") == 0 || strcmp (name, "help") == 0)
    {
      print_usage (stdout);
      return EXIT_OK;
    }
  if (strcmp (name, "-V") == 0 || strcmp (name, "--version") == 0)
    {
      print_version ();
      return EXIT_OK;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      return commands[i].run (argc - 1, argv + 1);

  fprintf (stderr, "visage-cli: unknown command '%s'\n", name);
  fprintf (stderr, "Run 'visage-cli --help' for the list of commands.\n");
  return EXIT_USAGE;
}

static gint64
file_size (const char *path)
{
  GStatBuf st;

  return g_stat (path, &st) == 0 ? (gint64) st.st_size : -1;
}

int
vg_cli_convert (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *out = NULL;
  gboolean f16 = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (VgModel) model = NULL;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path, "Model file (.safetensors)",
      "FILE" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "The converted model file", "FILE" },
    { "f16", 0, 0, G_OPTION_ARG_NONE, &f16,
      "Store the weight matrices and kernels in F16 (the only conversion so far)", NULL },
    { NULL }
  };
  int status = EXIT_OK, converted = 0;
  VgPreprocess pre;

  if (!vg_cli_parse_options_only ("convert", "write a model file in another storage format",
                                  entries, &argc, &argv, &status))
    return status;
  if (model_path == NULL || out == NULL || !f16)
    {
      fprintf (stderr, "visage-cli convert: give --model FILE, --out FILE and --f16\n");
      return EXIT_USAGE;
    }
  /* Only model files: their tensors are checked against their configuration first. */
  if ((model = vg_model_open (model_path, vg_backend_cpu (), &pre, &error)) == NULL
      || !vg_safetensors_convert_f16 (model_path, out, &converted, &error))
    {
      fprintf (stderr, "visage-cli convert: %s\n", error->message);
      return EXIT_FAILURE_RUN;
    }
  g_clear_pointer (&model, vg_model_free);
  if ((model = vg_model_open (out, vg_backend_cpu (), &pre, &error)) == NULL)
    {
      fprintf (stderr, "visage-cli convert: the converted file does not load: %s\n",
               error->message);
      return EXIT_FAILURE_RUN;
    }
  printf ("wrote %s: %d weight tensors in F16, %.2f MB -> %.2f MB\n", out, converted,
          file_size (model_path) / 1e6, file_size (out) / 1e6);
  return EXIT_OK;
}
