/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The ONNX export read back with protobuf-c: the model's header, the graph's input and
 * output, that it is well formed (every value defined before use, once), that it uses
 * only opset-17 operators, that every state_dict tensor is there with its values, and the
 * class metadata. ONNX Runtime runs it in onnxruntime.mjs. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"
#include "vg-classes.h"
#include "vg-onnx.h"
#include "test-register.h"

static const VgPreprocess test_pre = { { 0.5, 0.4, 0.3 }, { 0.25, 0.2, 0.3 }, 256 };

typedef struct {
  VgModel *model;
  Onnx__ModelProto *proto;
  GBytes *bytes;
} Exported;

static void
exported_clear (Exported *e)
{
  if (e->proto != NULL)
    onnx__model_proto__free_unpacked (e->proto, NULL);
  g_clear_pointer (&e->bytes, g_bytes_unref);
  g_clear_pointer (&e->model, vg_model_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Exported, exported_clear)

static void
export (Exported *e, const char *config, const char *spec, const VgOnnxOptions *opts)
{
  g_autoptr (GError) error = NULL;
  VgConfig cfg;
  gsize size;
  const uint8_t *data;

  g_assert_true (vg_config_from_name (&cfg, config, &error));
  if (spec != NULL)
    g_assert_true (vg_config_parse (&cfg, spec, &error));
  g_assert_true (vg_config_validate (&cfg, &error));
  e->model = vg_model_new (&cfg, vg_backend_cpu (), &error);
  g_assert_no_error (error);
  vg_model_init (e->model, 3);
  e->bytes = vg_onnx_export (e->model, &test_pre, opts, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (e->bytes, &size);
  e->proto = onnx__model_proto__unpack (NULL, size, data);
  g_assert_nonnull (e->proto);
}

/* dims as "batch,3,height,width" */
static char *
value_shape (const Onnx__ValueInfoProto *v, int *elem_type)
{
  const Onnx__TypeProto__Tensor *t;
  g_autoptr (GString) s = g_string_new (NULL);

  g_assert_cmpint (v->type->value_case, ==, ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE);
  t = v->type->tensor_type;
  *elem_type = t->elem_type;
  for (size_t i = 0; i < t->shape->n_dim; i++)
    {
      const Onnx__TensorShapeProto__Dimension *d = t->shape->dim[i];
      if (i > 0)
        g_string_append_c (s, ',');
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM)
        g_string_append (s, d->dim_param);
      else
        g_string_append_printf (s, "%" G_GINT64_FORMAT, d->dim_value);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static const char *
metadata (const Onnx__ModelProto *m, const char *key)
{
  for (size_t i = 0; i < m->n_metadata_props; i++)
    if (strcmp (m->metadata_props[i]->key, key) == 0)
      return m->metadata_props[i]->value;
  return NULL;
}

static const Onnx__TensorProto *
initializer (const Onnx__GraphProto *g, const char *name)
{
  for (size_t i = 0; i < g->n_initializer; i++)
    if (strcmp (g->initializer[i]->name, name) == 0)
      return g->initializer[i];
  return NULL;
}

/* Well formed: every input defined before its node (graph input, initializer or an earlier
 * output), every value defined once, every operator of opset 17's default domain among
 * those the exporter is meant to use; the output is produced. */
static void
check_graph (const Onnx__GraphProto *g)
{
  static const char *const ops[] = {
    "Add", "BatchNormalization", "Cast", "Concat", "Conv", "ConvTranspose", "Div", "Erf",
    "LayerNormalization", "MatMul", "Mul", "Relu", "Reshape", "Resize", "Shape", "Softmax",
    "Split", "Transpose", NULL
  };
  g_autoptr (GHashTable) defined = g_hash_table_new (g_str_hash, g_str_equal);

  for (size_t i = 0; i < g->n_input; i++)
    g_assert_true (g_hash_table_add (defined, g->input[i]->name));
  for (size_t i = 0; i < g->n_initializer; i++)
    g_assert_true (g_hash_table_add (defined, g->initializer[i]->name));
  for (size_t i = 0; i < g->n_node; i++)
    {
      const Onnx__NodeProto *n = g->node[i];

      g_assert_true (n->domain == NULL || n->domain[0] == '\0');
      g_assert_true (g_strv_contains (ops, n->op_type));
      for (size_t j = 0; j < n->n_input; j++)
        if (n->input[j][0] != '\0' && !g_hash_table_contains (defined, n->input[j]))
          g_error ("node %s (%s) reads %s before it is defined", n->name, n->op_type,
                   n->input[j]);
      for (size_t j = 0; j < n->n_output; j++)
        if (!g_hash_table_add (defined, n->output[j]))
          g_error ("%s is defined twice", n->output[j]);
    }
  g_assert_cmpuint (g->n_output, ==, 1);
  g_assert_true (g_hash_table_contains (defined, g->output[0]->name));
}

/* Every state_dict tensor but the BatchNorm counters is an initializer with the model's
 * values: under its own name, or transposed under "<name>_t" for the linears. */
static void
check_weights (VgModel *model, const Onnx__GraphProto *g)
{
  const VgConfig *cfg = vg_model_config (model);
  int n = vg_config_param_specs (cfg, NULL, 0);
  g_autofree VgParamSpec *specs = g_new (VgParamSpec, n);
  size_t total = 0, found = 0;

  vg_config_param_specs (cfg, specs, n);
  for (int i = 0; i < n; i++)
    {
      const VgParamSpec *s = &specs[i];
      g_autofree char *name_t = g_strconcat (s->name, "_t", NULL);
      const Onnx__TensorProto *t;
      const float *ref, *data;
      gboolean transposed = FALSE;
      size_t numel;

      if (s->kind == VG_TENSOR_COUNTER)
        continue;
      total += s->numel;
      ref = vg_model_tensor (model, s->name, FALSE, &numel);
      if ((t = initializer (g, s->name)) == NULL)
        {
          t = initializer (g, name_t);
          transposed = TRUE;
          g_assert_cmpint (s->ndim, ==, 2);
        }
      if (t == NULL)
        g_error ("%s is not in the ONNX file", s->name);
      g_assert_cmpint (t->data_type, ==, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
      g_assert_true (t->has_raw_data);
      g_assert_cmpuint (t->raw_data.len, ==, numel * sizeof (float));
      g_assert_cmpuint (t->n_dims, ==, s->ndim);
      data = (const float *) t->raw_data.data;
      if (transposed)
        {
          g_assert_cmpint (t->dims[0], ==, s->shape[1]);
          g_assert_cmpint (t->dims[1], ==, s->shape[0]);
          for (int o = 0; o < s->shape[0]; o++)
            for (int k = 0; k < s->shape[1]; k++)
              g_assert_cmpfloat (data[(size_t) k * s->shape[0] + o], ==,
                                 ref[(size_t) o * s->shape[1] + k]);
        }
      else
        {
          for (int d = 0; d < s->ndim; d++)
            g_assert_cmpint (t->dims[d], ==, s->shape[d]);
          g_assert_cmpmem (data, numel * sizeof (float), ref, numel * sizeof (float));
        }
      found += numel;
    }
  g_assert_cmpuint (found, ==, total);
}

static void
check_classes (const Onnx__ModelProto *m)
{
  g_auto (GStrv) names = g_strsplit (metadata (m, "visage.classes"), ",", -1);
  g_auto (GStrv) palette = g_strsplit (metadata (m, "visage.palette"), ",", -1);
  g_auto (GStrv) mirror = g_strsplit (metadata (m, "visage.mirror"), ",", -1);

  g_assert_cmpuint (g_strv_length (names), ==, VG_NUM_CLASSES);
  g_assert_cmpuint (g_strv_length (palette), ==, VG_NUM_CLASSES);
  g_assert_cmpuint (g_strv_length (mirror), ==, VG_NUM_CLASSES);
  for (int i = 0; i < VG_NUM_CLASSES; i++)
    {
      const uint8_t *rgb = vg_class_rgb (i);
      g_autofree char *hex = g_strdup_printf ("#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);

      g_assert_cmpstr (names[i], ==, vg_class_name (i));
      g_assert_cmpstr (palette[i], ==, hex);
      g_assert_cmpint (atoi (mirror[i]), ==, vg_class_mirror (i));
    }
}

static void
check_model (const char *config, const char *spec)
{
  g_auto (Exported) e = { 0 };
  g_autofree char *in_shape = NULL, *out_shape = NULL, *expect_out = NULL;
  int in_type, out_type;
  const Onnx__GraphProto *g;

  export (&e, config, spec, NULL);
  g = e.proto->graph;
  g_assert_cmpint (e.proto->ir_version, ==, ONNX__VERSION__IR_VERSION);
  g_assert_cmpuint (e.proto->n_opset_import, ==, 1);
  g_assert_cmpint (e.proto->opset_import[0]->version, ==, VG_ONNX_OPSET);
  g_assert_cmpstr (e.proto->producer_name, ==, PACKAGE_NAME);

  g_assert_cmpuint (g->n_input, ==, 1);
  g_assert_cmpstr (g->input[0]->name, ==, "image");
  in_shape = value_shape (g->input[0], &in_type);
  g_assert_cmpstr (in_shape, ==, "batch,3,height,width");
  g_assert_cmpint (in_type, ==, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
  g_assert_cmpstr (g->output[0]->name, ==, "logits");
  out_shape = value_shape (g->output[0], &out_type);
  expect_out = g_strdup_printf ("batch,%d,height,width", VG_NUM_CLASSES);
  g_assert_cmpstr (out_shape, ==, expect_out);
  g_assert_cmpint (out_type, ==, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);

  check_graph (g);
  check_weights (e.model, g);
  check_classes (e.proto);
  g_assert_cmpstr (metadata (e.proto, "visage.config_name"), ==,
                   vg_model_config (e.model)->name);
  g_assert_nonnull (metadata (e.proto, "visage.mean"));
  g_assert_nonnull (metadata (e.proto, "visage.std"));
}

VG_TEST ("/onnx/structure/visage-s", test_visage_s)
{
  check_model ("visage-s", NULL);
}

VG_TEST ("/onnx/structure/seed", test_seed)
{
  check_model ("seed", NULL);
}

VG_TEST ("/onnx/structure/custom", test_custom)
{
  check_model ("visage-s", "widths=16,32,48,64 depths=1,1,2,1 heads=1,2,3,2 ratios=4,2,2,1 "
                           "mlp=2 dim=48 head=tconv");
}

/* uint8 NHWC: the input's type and layout, and the normalisation constants inside. */
VG_TEST ("/onnx/structure/uint8-nhwc", test_uint8_nhwc)
{
  const VgOnnxOptions opts = { TRUE, TRUE };
  g_auto (Exported) e = { 0 };
  g_autofree char *in_shape = NULL;
  const Onnx__TensorProto *scale, *shift;
  int in_type;

  export (&e, "visage-s", NULL, &opts);
  check_graph (e.proto->graph);
  in_shape = value_shape (e.proto->graph->input[0], &in_type);
  g_assert_cmpstr (in_shape, ==, "batch,height,width,3");
  g_assert_cmpint (in_type, ==, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8);
  scale = initializer (e.proto->graph, "input.scale");
  shift = initializer (e.proto->graph, "input.shift");
  g_assert_nonnull (scale);
  g_assert_nonnull (shift);
  for (int c = 0; c < 3; c++)
    {
      float std = (float) test_pre.std[c], mean = (float) test_pre.mean[c];
      g_assert_cmpfloat (((const float *) scale->raw_data.data)[c], ==, 1.0f / std);
      g_assert_cmpfloat (((const float *) shift->raw_data.data)[c], ==, -mean / std);
    }
  g_assert_true (strstr (metadata (e.proto, "visage.input"), "uint8 NHWC") != NULL);
}

VG_TEST_MAIN ()
