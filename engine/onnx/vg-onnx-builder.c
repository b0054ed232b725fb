/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ONNX graph builder over protobuf-c (see vg-onnx-builder.h).
 *
 * Memory: every message, array and string belongs to the builder. Messages and arrays are
 * g_malloc'd and listed in `blocks`, strings live in one GStringChunk; the repeated fields
 * of the graph and the model are GPtrArrays whose pdata the messages point at when the
 * model is serialised. Nothing is freed before vg_onnx_builder_free. */
#define G_LOG_DOMAIN "visage-engine"

#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "vg-onnx-builder.h"

#define MAX_ATTRIBUTES 8

struct _VgOnnxBuilder
{
  GPtrArray *blocks;        /* g_malloc'd messages and arrays, freed together */
  GStringChunk *strings;
  GHashTable *names;        /* value names in use (interned) */
  GHashTable *constants;    /* constant key -> initializer name */
  const char *graph_name;
  GPtrArray *nodes;         /* Onnx__NodeProto */
  GPtrArray *initializers;  /* Onnx__TensorProto */
  GPtrArray *inputs;        /* Onnx__ValueInfoProto */
  GPtrArray *outputs;       /* Onnx__ValueInfoProto */
  GPtrArray *metadata;      /* Onnx__StringStringEntryProto */
};

static void *
alloc0 (VgOnnxBuilder *b, size_t size)
{
  void *p = g_malloc0 (MAX (size, 1));

  g_ptr_array_add (b->blocks, p);
  return p;
}

static void *
dup_block (VgOnnxBuilder *b, const void *data, size_t size)
{
  void *p = alloc0 (b, size);

  if (size > 0)
    memcpy (p, data, size);
  return p;
}

VgOnnxBuilder *
vg_onnx_builder_new (const char *graph_name)
{
  VgOnnxBuilder *b = g_new0 (VgOnnxBuilder, 1);

  b->blocks = g_ptr_array_new_with_free_func (g_free);
  b->strings = g_string_chunk_new (4096);
  b->names = g_hash_table_new (g_str_hash, g_str_equal);
  b->constants = g_hash_table_new (g_str_hash, g_str_equal);
  b->graph_name = vg_onnx_intern (b, graph_name);
  b->nodes = g_ptr_array_new ();
  b->initializers = g_ptr_array_new ();
  b->inputs = g_ptr_array_new ();
  b->outputs = g_ptr_array_new ();
  b->metadata = g_ptr_array_new ();
  return b;
}

void
vg_onnx_builder_free (VgOnnxBuilder *b)
{
  if (b == NULL)
    return;
  g_ptr_array_unref (b->nodes);
  g_ptr_array_unref (b->initializers);
  g_ptr_array_unref (b->inputs);
  g_ptr_array_unref (b->outputs);
  g_ptr_array_unref (b->metadata);
  g_hash_table_unref (b->names);
  g_hash_table_unref (b->constants);
  g_string_chunk_free (b->strings);
  g_ptr_array_unref (b->blocks);
  g_free (b);
}

const char *
vg_onnx_intern (VgOnnxBuilder *b, const char *s)
{
  return g_string_chunk_insert_const (b->strings, s);
}

const char *
vg_onnx_printf (VgOnnxBuilder *b, const char *format, ...)
{
  g_autofree char *s = NULL;
  va_list args;

  va_start (args, format);
  s = g_strdup_vprintf (format, args);
  va_end (args);
  return vg_onnx_intern (b, s);
}

/* Reserve a value name: hint itself when unused, else hint_1, hint_2, ... */
static char *
unique_name (VgOnnxBuilder *b, const char *hint)
{
  char *name = (char *) vg_onnx_intern (b, hint);

  for (int i = 1; g_hash_table_contains (b->names, name); i++)
    {
      g_autofree char *s = g_strdup_printf ("%s_%d", hint, i);
      name = (char *) vg_onnx_intern (b, s);
    }
  g_hash_table_add (b->names, name);
  return name;
}

static size_t
element_size (int data_type)
{
  switch (data_type)
    {
    case VG_ONNX_FLOAT:
      return 4;
    case VG_ONNX_INT64:
      return 8;
    case VG_ONNX_UINT8:
      return 1;
    default:
      g_return_val_if_reached (0);
    }
}

/* ONNX stores raw_data little-endian; the engine runs only on little-endian hosts. */
G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);

const char *
vg_onnx_initializer (VgOnnxBuilder *b, const char *name, int data_type, const void *data,
                     int ndim, const int64_t *dims)
{
  Onnx__TensorProto *t = alloc0 (b, sizeof *t);
  size_t n = 1;

  onnx__tensor_proto__init (t);
  for (int i = 0; i < ndim; i++)
    n *= (size_t) dims[i];
  t->name = unique_name (b, name);
  t->n_dims = ndim;
  t->dims = dup_block (b, dims, sizeof (int64_t) * ndim);
  t->has_data_type = TRUE;
  t->data_type = data_type;
  t->has_raw_data = TRUE;
  t->raw_data.len = n * element_size (data_type);
  t->raw_data.data = dup_block (b, data, t->raw_data.len);
  g_ptr_array_add (b->initializers, t);
  return t->name;
}

const char *
vg_onnx_scalar (VgOnnxBuilder *b, float value)
{
  g_autofree char *key = g_strdup_printf ("const/f32/%a", value);
  const char *name = g_hash_table_lookup (b->constants, key);

  if (name == NULL)
    {
      g_autofree char *hint = g_strdup_printf ("const/%.9g", value);
      name = vg_onnx_initializer (b, hint, VG_ONNX_FLOAT, &value, 0, NULL);
      g_hash_table_insert (b->constants, (char *) vg_onnx_intern (b, key), (char *) name);
    }
  return name;
}

const char *
vg_onnx_int64s (VgOnnxBuilder *b, int n, const int64_t *values)
{
  g_autoptr (GString) key = g_string_new ("const/i64");
  const char *name;

  for (int i = 0; i < n; i++)
    g_string_append_printf (key, "%c%" G_GINT64_FORMAT, i == 0 ? '/' : ',', values[i]);
  name = g_hash_table_lookup (b->constants, key->str);
  if (name == NULL)
    {
      int64_t dims[1] = { n };
      name = vg_onnx_initializer (b, key->str, VG_ONNX_INT64, values, 1, dims);
      g_hash_table_insert (b->constants, (char *) vg_onnx_intern (b, key->str), (char *) name);
    }
  return name;
}

static Onnx__ValueInfoProto *
value_info (VgOnnxBuilder *b, const char *name, int elem_type, int ndim, const int64_t *dims,
            const char *const *params)
{
  Onnx__ValueInfoProto *v = alloc0 (b, sizeof *v);
  Onnx__TypeProto *type = alloc0 (b, sizeof *type);
  Onnx__TypeProto__Tensor *tensor = alloc0 (b, sizeof *tensor);
  Onnx__TensorShapeProto *shape = alloc0 (b, sizeof *shape);

  onnx__value_info_proto__init (v);
  onnx__type_proto__init (type);
  onnx__type_proto__tensor__init (tensor);
  onnx__tensor_shape_proto__init (shape);
  shape->n_dim = ndim;
  shape->dim = alloc0 (b, sizeof (Onnx__TensorShapeProto__Dimension *) * ndim);
  for (int i = 0; i < ndim; i++)
    {
      Onnx__TensorShapeProto__Dimension *d = alloc0 (b, sizeof *d);

      onnx__tensor_shape_proto__dimension__init (d);
      if (dims[i] >= 0)
        {
          d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
          d->dim_value = dims[i];
        }
      else
        {
          d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
          d->dim_param = (char *) vg_onnx_intern (b, params[i]);
        }
      shape->dim[i] = d;
    }
  tensor->has_elem_type = TRUE;
  tensor->elem_type = elem_type;
  tensor->shape = shape;
  type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  type->tensor_type = tensor;
  v->name = (char *) vg_onnx_intern (b, name);
  v->type = type;
  return v;
}

void
vg_onnx_input (VgOnnxBuilder *b, const char *name, int elem_type, int ndim,
               const int64_t *dims, const char *const *params)
{
  g_return_if_fail (!g_hash_table_contains (b->names, name));
  g_ptr_array_add (b->inputs, value_info (b, unique_name (b, name), elem_type, ndim, dims,
                                          params));
}

void
vg_onnx_output (VgOnnxBuilder *b, const char *name, int elem_type, int ndim,
                const int64_t *dims, const char *const *params)
{
  g_ptr_array_add (b->outputs, value_info (b, name, elem_type, ndim, dims, params));
}

static Onnx__NodeProto *
node_va (VgOnnxBuilder *b, const char *op_type, int n_out, const char *const *outs,
         va_list args)
{
  Onnx__NodeProto *node = alloc0 (b, sizeof *node);
  g_autoptr (GPtrArray) inputs = g_ptr_array_new ();
  const char *in;

  while ((in = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (inputs, (char *) vg_onnx_intern (b, in));
  onnx__node_proto__init (node);
  node->op_type = (char *) vg_onnx_intern (b, op_type);
  node->n_input = inputs->len;
  node->input = dup_block (b, inputs->pdata, sizeof (char *) * inputs->len);
  node->n_output = n_out;
  node->output = alloc0 (b, sizeof (char *) * n_out);
  for (int i = 0; i < n_out; i++)
    node->output[i] = unique_name (b, outs[i]);
  node->name = node->output[0];
  node->attribute = alloc0 (b, sizeof (Onnx__AttributeProto *) * MAX_ATTRIBUTES);
  g_ptr_array_add (b->nodes, node);
  return node;
}

Onnx__NodeProto *
vg_onnx_node (VgOnnxBuilder *b, const char *op_type, const char *out, ...)
{
  Onnx__NodeProto *node;
  va_list args;

  va_start (args, out);
  node = node_va (b, op_type, 1, &out, args);
  va_end (args);
  return node;
}

Onnx__NodeProto *
vg_onnx_node_n (VgOnnxBuilder *b, const char *op_type, int n_out, const char *const *outs,
                ...)
{
  Onnx__NodeProto *node;
  va_list args;

  va_start (args, outs);
  node = node_va (b, op_type, n_out, outs, args);
  va_end (args);
  return node;
}

static Onnx__AttributeProto *
add_attribute (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name,
               Onnx__AttributeProto__AttributeType type)
{
  Onnx__AttributeProto *a;

  g_return_val_if_fail (node->n_attribute < MAX_ATTRIBUTES, NULL);
  a = alloc0 (b, sizeof *a);
  onnx__attribute_proto__init (a);
  a->name = (char *) vg_onnx_intern (b, name);
  a->has_type = TRUE;
  a->type = type;
  node->attribute[node->n_attribute++] = a;
  return a;
}

void
vg_onnx_attr_int (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name, int64_t value)
{
  Onnx__AttributeProto *a = add_attribute (b, node, name,
                                           ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);

  if (a != NULL)
    {
      a->has_i = TRUE;
      a->i = value;
    }
}

void
vg_onnx_attr_float (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name, float value)
{
  Onnx__AttributeProto *a = add_attribute (b, node, name,
                                           ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);

  if (a != NULL)
    {
      a->has_f = TRUE;
      a->f = value;
    }
}

void
vg_onnx_attr_string (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name,
                     const char *value)
{
  Onnx__AttributeProto *a = add_attribute (b, node, name,
                                           ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);

  if (a != NULL)
    {
      a->has_s = TRUE;
      a->s.data = (uint8_t *) vg_onnx_intern (b, value);
      a->s.len = strlen (value);
    }
}

void
vg_onnx_attr_ints (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name, int n,
                   const int64_t *values)
{
  Onnx__AttributeProto *a = add_attribute (b, node, name,
                                           ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);

  if (a != NULL)
    {
      a->n_ints = n;
      a->ints = dup_block (b, values, sizeof (int64_t) * n);
    }
}

void
vg_onnx_metadata (VgOnnxBuilder *b, const char *key, const char *value)
{
  Onnx__StringStringEntryProto *e = alloc0 (b, sizeof *e);

  onnx__string_string_entry_proto__init (e);
  e->key = (char *) vg_onnx_intern (b, key);
  e->value = (char *) vg_onnx_intern (b, value);
  g_ptr_array_add (b->metadata, e);
}

GBytes *
vg_onnx_builder_serialize (VgOnnxBuilder *b, int64_t opset, const char *producer,
                           const char *producer_version, const char *doc_string)
{
  Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
  Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
  Onnx__OperatorSetIdProto import = ONNX__OPERATOR_SET_ID_PROTO__INIT;
  Onnx__OperatorSetIdProto *imports[1] = { &import };
  size_t size, packed;
  uint8_t *buf;

  graph.name = (char *) b->graph_name;
  graph.n_node = b->nodes->len;
  graph.node = (Onnx__NodeProto **) b->nodes->pdata;
  graph.n_initializer = b->initializers->len;
  graph.initializer = (Onnx__TensorProto **) b->initializers->pdata;
  graph.n_input = b->inputs->len;
  graph.input = (Onnx__ValueInfoProto **) b->inputs->pdata;
  graph.n_output = b->outputs->len;
  graph.output = (Onnx__ValueInfoProto **) b->outputs->pdata;

  import.domain = (char *) "";
  import.has_version = TRUE;
  import.version = opset;

  model.has_ir_version = TRUE;
  model.ir_version = ONNX__VERSION__IR_VERSION;
  model.n_opset_import = 1;
  model.opset_import = imports;
  model.producer_name = (char *) producer;
  model.producer_version = (char *) producer_version;
  model.doc_string = (char *) doc_string;
  model.graph = &graph;
  model.n_metadata_props = b->metadata->len;
  model.metadata_props = (Onnx__StringStringEntryProto **) b->metadata->pdata;

  size = onnx__model_proto__get_packed_size (&model);
  buf = g_malloc (MAX (size, 1));
  packed = onnx__model_proto__pack (&model, buf);
  if (packed != size)
    {
      g_critical ("protobuf-c packed %zu bytes of a %zu-byte model", packed, size);
      g_free (buf);
      return NULL;
    }
  return g_bytes_new_take (buf, size);
}

int
vg_onnx_builder_n_nodes (const VgOnnxBuilder *b)
{
  return (int) b->nodes->len;
}

int
vg_onnx_builder_n_initializers (const VgOnnxBuilder *b)
{
  return (int) b->initializers->len;
}
