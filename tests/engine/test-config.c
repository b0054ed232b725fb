/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Named configurations, the spec format and the parameter table.
 *
 * The parameter counts and table entries below come from the PyTorch reference
 * (tests/reference/segformer_ref.py: sum of p.numel() and state_dict order); the table is
 * also compared entry by entry with the fixtures' gradient names in test-safetensors. */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib.h>

#include "vg-config.h"
#include "test-register.h"

static VgConfig
named (const char *name)
{
  VgConfig cfg;
  g_autoptr (GError) error = NULL;

  g_assert_true (vg_config_from_name (&cfg, name, &error));
  g_assert_no_error (error);
  return cfg;
}

static void
assert_same_config (const VgConfig *a, const VgConfig *b)
{
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpint (a->in_channels, ==, b->in_channels);
  g_assert_cmpint (a->num_classes, ==, b->num_classes);
  g_assert_cmpmem (a->widths, sizeof a->widths, b->widths, sizeof b->widths);
  g_assert_cmpmem (a->depths, sizeof a->depths, b->depths, sizeof b->depths);
  g_assert_cmpmem (a->heads, sizeof a->heads, b->heads, sizeof b->heads);
  g_assert_cmpmem (a->ratios, sizeof a->ratios, b->ratios, sizeof b->ratios);
  g_assert_cmpint (a->mlp_ratio, ==, b->mlp_ratio);
  g_assert_cmpint (a->decoder_dim, ==, b->decoder_dim);
  g_assert_cmpint (a->head, ==, b->head);
  g_assert_cmpfloat (a->ln_eps, ==, b->ln_eps);
  g_assert_cmpfloat (a->bn_eps, ==, b->bn_eps);
  g_assert_cmpfloat (a->bn_momentum, ==, b->bn_momentum);
}

VG_TEST ("/config/names", test_names)
{
  const char *const *names = vg_config_names ();
  VgConfig cfg;
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (names[0], ==, "visage-s");  /* the default comes first */
  g_assert_cmpstr (names[1], ==, "seed");
  g_assert_cmpstr (names[2], ==, "unet");
  g_assert_cmpstr (names[3], ==, "deeplabv3plus");
  g_assert_cmpstr (names[4], ==, "fastscnn");
  g_assert_null (names[5]);

  cfg = named ("seed");
  g_assert_cmpstr (cfg.name, ==, "seed");
  g_assert_cmpint (cfg.head, ==, VG_HEAD_TCONV);
  g_assert_cmpint (cfg.decoder_dim, ==, 256);
  g_assert_cmpint (cfg.in_channels, ==, 3);
  g_assert_cmpint (cfg.num_classes, ==, 19);
  g_assert_cmpfloat (cfg.ln_eps, ==, 1e-5f);
  g_assert_cmpfloat (cfg.bn_eps, ==, 1e-5f);
  g_assert_cmpfloat (cfg.bn_momentum, ==, 0.1f);
  g_assert_true (vg_config_validate (&cfg, &error));
  g_assert_no_error (error);

  cfg = named ("visage-s");
  g_assert_cmpint (cfg.head, ==, VG_HEAD_BILINEAR);
  g_assert_cmpint (cfg.ratios[0], ==, 8);
  g_assert_true (vg_config_validate (&cfg, &error));
  g_assert_no_error (error);

  g_assert_false (vg_config_from_name (&cfg, "visage-xl", &error));
  g_assert_error (error, VG_CONFIG_ERROR, 1);
  /* The message names the bad choice and the good ones. */
  g_assert_nonnull (strstr (error->message, "visage-xl"));
  g_assert_nonnull (strstr (error->message, "visage-s"));
  g_assert_nonnull (strstr (error->message, "seed"));
}

VG_TEST ("/config/param-counts", test_param_counts)
{
  VgConfig seed = named ("seed"), small = named ("visage-s");

  /* From the report (seed) and the PyTorch reference (both). */
  g_assert_cmpuint (vg_config_count_params (&seed), ==, 1981478);
  g_assert_cmpuint (vg_config_count_params (&small), ==, 1967923);
  /* state_dict lengths of the reference: parameters, BN buffers and counters. */
  g_assert_cmpint (vg_config_param_specs (&seed, NULL, 0), ==, 175);
  g_assert_cmpint (vg_config_param_specs (&small, NULL, 0), ==, 213);
}

typedef struct {
  const char *name;
  VgTensorKind kind;
  int ndim;
  int shape[4];
} Expected;

static void
assert_spec (const VgParamSpec *spec, const Expected *e)
{
  size_t numel = 1;

  g_assert_cmpstr (spec->name, ==, e->name);
  g_assert_cmpint (spec->kind, ==, e->kind);
  g_assert_cmpint (spec->ndim, ==, e->ndim);
  for (int i = 0; i < e->ndim; i++)
    {
      g_assert_cmpint (spec->shape[i], ==, e->shape[i]);
      numel *= (size_t) e->shape[i];
    }
  g_assert_cmpuint (spec->numel, ==, numel);
}

VG_TEST ("/config/table-seed", test_table_seed)
{
  VgConfig cfg = named ("seed");
  int n = vg_config_param_specs (&cfg, NULL, 0);
  g_autofree VgParamSpec *specs = g_new0 (VgParamSpec, n);
  static const Expected first[] = {
    { "encoder.stages.0.patch_embed.proj.weight", VG_TENSOR_PARAM, 4, { 16, 3, 7, 7 } },
    { "encoder.stages.0.patch_embed.proj.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.patch_embed.norm.weight", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.patch_embed.norm.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.blocks.0.norm1.weight", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.blocks.0.norm1.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.blocks.0.attn.q.weight", VG_TENSOR_PARAM, 2, { 16, 16 } },
    { "encoder.stages.0.blocks.0.attn.q.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.blocks.0.attn.kv.weight", VG_TENSOR_PARAM, 2, { 32, 16 } },
    { "encoder.stages.0.blocks.0.attn.kv.bias", VG_TENSOR_PARAM, 1, { 32 } },
    /* R = 1: no sr / sr_norm */
    { "encoder.stages.0.blocks.0.attn.proj.weight", VG_TENSOR_PARAM, 2, { 16, 16 } },
    { "encoder.stages.0.blocks.0.attn.proj.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.blocks.0.norm2.weight", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.blocks.0.norm2.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.blocks.0.mlp.fc1.weight", VG_TENSOR_PARAM, 2, { 64, 16 } },
    { "encoder.stages.0.blocks.0.mlp.fc1.bias", VG_TENSOR_PARAM, 1, { 64 } },
    { "encoder.stages.0.blocks.0.mlp.dwconv.weight", VG_TENSOR_PARAM, 4, { 64, 1, 3, 3 } },
    { "encoder.stages.0.blocks.0.mlp.dwconv.bias", VG_TENSOR_PARAM, 1, { 64 } },
    { "encoder.stages.0.blocks.0.mlp.fc2.weight", VG_TENSOR_PARAM, 2, { 16, 64 } },
    { "encoder.stages.0.blocks.0.mlp.fc2.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.norm.weight", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.0.norm.bias", VG_TENSOR_PARAM, 1, { 16 } },
    { "encoder.stages.1.patch_embed.proj.weight", VG_TENSOR_PARAM, 4, { 32, 16, 3, 3 } },
  };
  static const Expected last[] = {
    { "decoder.fuse.conv.weight", VG_TENSOR_PARAM, 4, { 256, 1024, 1, 1 } },
    { "decoder.fuse.conv.bias", VG_TENSOR_PARAM, 1, { 256 } },
    { "decoder.fuse.bn.weight", VG_TENSOR_PARAM, 1, { 256 } },
    { "decoder.fuse.bn.bias", VG_TENSOR_PARAM, 1, { 256 } },
    { "decoder.fuse.bn.running_mean", VG_TENSOR_BUFFER, 1, { 256 } },
    { "decoder.fuse.bn.running_var", VG_TENSOR_BUFFER, 1, { 256 } },
    { "decoder.fuse.bn.num_batches_tracked", VG_TENSOR_COUNTER, 0, { 0 } },
    { "decoder.classifier.weight", VG_TENSOR_PARAM, 4, { 19, 256, 1, 1 } },
    { "decoder.classifier.bias", VG_TENSOR_PARAM, 1, { 19 } },
    { "head.weight", VG_TENSOR_PARAM, 4, { 19, 19, 4, 4 } },  /* (Cin, Cout, K, K) */
    { "head.bias", VG_TENSOR_PARAM, 1, { 19 } },
  };
  int n_last = (int) G_N_ELEMENTS (last);

  g_assert_cmpint (vg_config_param_specs (&cfg, specs, n), ==, n);
  for (int i = 0; i < (int) G_N_ELEMENTS (first); i++)
    assert_spec (&specs[i], &first[i]);
  for (int i = 0; i < n_last; i++)
    assert_spec (&specs[n - n_last + i], &last[i]);
  /* The counter is one I64 element despite ndim 0. */
  g_assert_cmpuint (specs[n - 5].numel, ==, 1);
}

VG_TEST ("/config/table-visage-s", test_table_visage_s)
{
  VgConfig cfg = named ("visage-s");
  int n = vg_config_param_specs (&cfg, NULL, 0);
  g_autofree VgParamSpec *specs = g_new0 (VgParamSpec, n);
  static const Expected first[] = {
    { "encoder.stages.0.patch_embed.proj.weight", VG_TENSOR_PARAM, 4, { 32, 3, 7, 7 } },
    { "encoder.stages.0.patch_embed.proj.bias", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.patch_embed.norm.weight", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.patch_embed.norm.bias", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.blocks.0.norm1.weight", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.blocks.0.norm1.bias", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.blocks.0.attn.q.weight", VG_TENSOR_PARAM, 2, { 32, 32 } },
    { "encoder.stages.0.blocks.0.attn.q.bias", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.blocks.0.attn.kv.weight", VG_TENSOR_PARAM, 2, { 64, 32 } },
    { "encoder.stages.0.blocks.0.attn.kv.bias", VG_TENSOR_PARAM, 1, { 64 } },
    { "encoder.stages.0.blocks.0.attn.sr.weight", VG_TENSOR_PARAM, 4, { 32, 32, 8, 8 } },
    { "encoder.stages.0.blocks.0.attn.sr.bias", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.blocks.0.attn.sr_norm.weight", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.blocks.0.attn.sr_norm.bias", VG_TENSOR_PARAM, 1, { 32 } },
    { "encoder.stages.0.blocks.0.attn.proj.weight", VG_TENSOR_PARAM, 2, { 32, 32 } },
  };
  static const Expected last[] = {
    { "decoder.linear_c.3.conv.weight", VG_TENSOR_PARAM, 4, { 128, 160, 1, 1 } },
    { "decoder.linear_c.3.conv.bias", VG_TENSOR_PARAM, 1, { 128 } },
    { "decoder.linear_c.3.bn.weight", VG_TENSOR_PARAM, 1, { 128 } },
    { "decoder.linear_c.3.bn.bias", VG_TENSOR_PARAM, 1, { 128 } },
    { "decoder.linear_c.3.bn.running_mean", VG_TENSOR_BUFFER, 1, { 128 } },
    { "decoder.linear_c.3.bn.running_var", VG_TENSOR_BUFFER, 1, { 128 } },
    { "decoder.linear_c.3.bn.num_batches_tracked", VG_TENSOR_COUNTER, 0, { 0 } },
    { "decoder.fuse.conv.weight", VG_TENSOR_PARAM, 4, { 128, 512, 1, 1 } },
    { "decoder.fuse.conv.bias", VG_TENSOR_PARAM, 1, { 128 } },
    { "decoder.fuse.bn.weight", VG_TENSOR_PARAM, 1, { 128 } },
    { "decoder.fuse.bn.bias", VG_TENSOR_PARAM, 1, { 128 } },
    { "decoder.fuse.bn.running_mean", VG_TENSOR_BUFFER, 1, { 128 } },
    { "decoder.fuse.bn.running_var", VG_TENSOR_BUFFER, 1, { 128 } },
    { "decoder.fuse.bn.num_batches_tracked", VG_TENSOR_COUNTER, 0, { 0 } },
    { "decoder.classifier.weight", VG_TENSOR_PARAM, 4, { 19, 128, 1, 1 } },
    { "decoder.classifier.bias", VG_TENSOR_PARAM, 1, { 19 } },  /* no head.* */
  };
  int n_last = (int) G_N_ELEMENTS (last);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  VgParamSpec probe[3];

  g_assert_cmpint (vg_config_param_specs (&cfg, specs, n), ==, n);
  for (int i = 0; i < (int) G_N_ELEMENTS (first); i++)
    assert_spec (&specs[i], &first[i]);
  for (int i = 0; i < n_last; i++)
    assert_spec (&specs[n - n_last + i], &last[i]);

  /* Names are unique and none was cut short by VG_PARAM_NAME_MAX. */
  for (int i = 0; i < n; i++)
    {
      g_assert_true (g_hash_table_add (seen, specs[i].name));
      g_assert_cmpuint (strlen (specs[i].name), <, VG_PARAM_NAME_MAX - 1);
    }
  /* A short array gets the first entries and the full count. */
  g_assert_cmpint (vg_config_param_specs (&cfg, probe, 3), ==, n);
  assert_spec (&probe[2], &first[2]);
}

VG_TEST ("/config/roundtrip", test_roundtrip)
{
  const char *const *names = vg_config_names ();

  for (int i = 0; names[i] != NULL; i++)
    {
      VgConfig cfg = named (names[i]);
      /* Parse on top of the other configuration so that every key must be carried. */
      VgConfig back = named (names[i + 1] != NULL ? names[i + 1] : names[0]);
      g_autofree char *spec = vg_config_to_string (&cfg);
      g_autoptr (GError) error = NULL;

      g_assert_true (vg_config_parse (&back, spec, &error));
      g_assert_no_error (error);
      assert_same_config (&back, &cfg);  /* the name comes back too */
    }

  /* The seed's spec, exactly as the fixtures' metadata carries it. */
  {
    VgConfig cfg = named ("seed");
    g_autofree char *spec = vg_config_to_string (&cfg);

    g_assert_cmpstr (spec, ==,
                     "widths=16,32,128,192 depths=1,2,2,2 heads=2,2,2,8 ratios=1,1,1,1 "
                     "mlp=4 dim=256 head=tconv");
  }

  /* A custom configuration round-trips and is called "custom". */
  {
    VgConfig cfg = named ("visage-s"), back = named ("seed");
    g_autoptr (GError) error = NULL;
    g_autofree char *spec = NULL;

    g_assert_true (vg_config_parse (&cfg, "widths=8,16,24,32 depths=1,1,2,1 "
                                    "heads=1,2,3,4  mlp=2\tdim=16", &error));
    g_assert_no_error (error);
    g_assert_cmpstr (cfg.name, ==, "custom");
    g_assert_cmpint (cfg.ratios[0], ==, 8);  /* kept from the base */
    g_assert_cmpint (cfg.head, ==, VG_HEAD_BILINEAR);
    g_assert_cmpint (cfg.decoder_dim, ==, 16);
    spec = vg_config_to_string (&cfg);
    g_assert_true (vg_config_parse (&back, spec, &error));
    g_assert_no_error (error);
    assert_same_config (&back, &cfg);
  }

  /* An empty spec changes nothing. */
  {
    VgConfig cfg = named ("seed"), ref = named ("seed");
    g_autoptr (GError) error = NULL;

    g_assert_true (vg_config_parse (&cfg, "", &error));
    g_assert_no_error (error);
    assert_same_config (&cfg, &ref);
  }
}

VG_TEST ("/config/reject", test_reject)
{
  /* Each bad spec, and a word its message must contain. */
  static const struct {
    const char *spec;
    const char *needle;
  } cases[] = {
    { "colour=3", "colour" },                          /* unknown key */
    { "widths=32,64,128,160 foo=1", "foo" },
    { "ratios=8,4,3,1", "ratios[2]" },                 /* R not in {1, 2, 4, 8} */
    { "heads=3,2,4,5", "heads[0]" },                   /* 3 does not divide 32 */
    { "widths=32,64,126,160", "heads[2]" },            /* 4 does not divide 126 */
    { "widths=32,x,128,160", "“x”" },                  /* garbage numbers */
    { "mlp=4.5", "4.5" },
    { "dim=-3", "-3" },
    { "dim=12abc", "12abc" },
    { "dim=99999999999999999999", "99999999999999999999" },
    { "dim=0", "“0”" },
    { "depths=0,2,2,2", "“0”" },
    { "widths=1,2,3", "widths" },                      /* three values, not four */
    { "widths=1,2,3,4,5", "widths" },
    { "heads=1,,2,4", "heads" },
    { "head=conv", "conv" },
    { "dim", "dim" },                                  /* no '=' */
    { "=4", "=4" },
    { "mlp=", "mlp=" },
    { "widths=8192,64,128,160", "widths[0]" },         /* beyond the sane range */
    { "depths=2,2,2,65", "depths[3]" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      VgConfig cfg = named ("visage-s"), ref = named ("visage-s");
      g_autoptr (GError) error = NULL;

      g_test_message ("spec “%s”", cases[i].spec);
      g_assert_false (vg_config_parse (&cfg, cases[i].spec, &error));
      g_assert_error (error, VG_CONFIG_ERROR, 1);
      g_test_message ("  -> %s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].needle));
      assert_same_config (&cfg, &ref);  /* a failed parse leaves the config alone */
    }
}

VG_TEST ("/config/validate", test_validate)
{
  VgConfig cfg;
  g_autoptr (GError) error = NULL;

  cfg = named ("seed");
  cfg.bn_momentum = 0.0f;
  g_assert_false (vg_config_validate (&cfg, &error));
  g_assert_nonnull (strstr (error->message, "bn_momentum"));
  g_clear_error (&error);

  cfg = named ("seed");
  cfg.ln_eps = NAN;
  g_assert_false (vg_config_validate (&cfg, &error));
  g_assert_nonnull (strstr (error->message, "ln_eps"));
  g_clear_error (&error);

  cfg = named ("seed");
  cfg.num_classes = 256;  /* labels are bytes with 255 = ignore */
  g_assert_false (vg_config_validate (&cfg, &error));
  g_assert_nonnull (strstr (error->message, "num_classes"));
  g_clear_error (&error);

  cfg = named ("seed");
  cfg.heads[3] = 0;
  g_assert_false (vg_config_validate (&cfg, &error));
  g_assert_nonnull (strstr (error->message, "heads[3]"));
  g_clear_error (&error);

  cfg = named ("seed");
  cfg.head = (VgHeadType) 7;
  g_assert_false (vg_config_validate (&cfg, &error));
  g_assert_nonnull (strstr (error->message, "head"));
}

VG_TEST_MAIN ()

/* The report's three baselines: their parameter counts (report-baselines.py), a spec that
 * names only the architecture and round-trips to the name, and the SegFormer's keys
 * refused for them. */
VG_TEST ("/config/baselines", test_baselines)
{
  static const struct {
    const char *name;
    VgArchitecture arch;
    size_t params;
  } cases[] = {
    { "unet", VG_ARCH_UNET, 1941411 },
    { "deeplabv3plus", VG_ARCH_DEEPLABV3PLUS, 1964394 },
    { "fastscnn", VG_ARCH_FASTSCNN, 1154435 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      VgConfig cfg = named (cases[i].name), parsed = named ("seed");
      g_autofree char *spec = vg_config_to_string (&cfg);
      g_autofree char *expected = g_strdup_printf ("arch=%s", cases[i].name);
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (cfg.arch, ==, cases[i].arch);
      g_assert_cmpuint (vg_config_count_params (&cfg), ==, cases[i].params);
      g_assert_cmpstr (spec, ==, expected);
      g_assert_cmpstr (vg_config_arch_name (cfg.arch), ==, cases[i].name);
      g_assert_true (vg_config_parse (&parsed, spec, &error));
      g_assert_no_error (error);
      g_assert_cmpint (parsed.arch, ==, cases[i].arch);
      g_assert_cmpstr (parsed.name, ==, cases[i].name);

      g_assert_false (vg_config_parse (&cfg, "widths=8,16,32,64", &error));
      g_assert_error (error, VG_CONFIG_ERROR, 1);
      g_assert_nonnull (strstr (error->message, "does not apply"));
      g_clear_error (&error);
      /* a SegFormer key before the arch token that makes it a baseline: refused too (the
       * fuzzer's "mlp=40960 arch=deeplabv3plus" was kept, unseen by the spec written back) */
      {
        VgConfig seed = named ("seed");
        g_autofree char *mixed = g_strdup_printf ("mlp=40960\tarch=%s", cases[i].name);

        g_assert_false (vg_config_parse (&seed, mixed, &error));
        g_assert_nonnull (strstr (error->message, "does not apply"));
        g_clear_error (&error);
      }
    }
  {
    VgConfig cfg = named ("unet");
    g_autoptr (GError) error = NULL;

    g_assert_false (vg_config_parse (&cfg, "arch=resnet", &error));
    g_assert_nonnull (strstr (error->message, "unknown architecture"));
    g_clear_error (&error);
    /* back to a SegFormer: its keys apply again */
    g_assert_true (vg_config_parse (&cfg, "arch=segformer", &error));
    g_assert_cmpint (cfg.arch, ==, VG_ARCH_SEGFORMER);
  }
}
