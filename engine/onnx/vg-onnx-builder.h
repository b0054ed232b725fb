/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A small builder for ONNX graphs on top of protobuf-c's generated onnx.pb-c.h (Debian's
 * onnx.proto, compiled by protoc-c at build time). The exporters add nodes, initializers,
 * inputs, outputs and metadata; the builder owns every message and string and serialises
 * the ModelProto with protobuf_c_message_pack.
 *
 * Value names are SSA: a node's output name is made unique by the builder (a suffix is
 * added on a clash), so callers always use the name returned in node->output[0]. */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "onnx.pb-c.h"

typedef struct _VgOnnxBuilder VgOnnxBuilder;

/* ONNX's TensorProto.DataType values the exporters use. */
enum {
  VG_ONNX_FLOAT = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
  VG_ONNX_UINT8 = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
  VG_ONNX_INT64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
};

VgOnnxBuilder *vg_onnx_builder_new (const char *graph_name);
void vg_onnx_builder_free (VgOnnxBuilder *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgOnnxBuilder, vg_onnx_builder_free)

/* A copy of s (or of the formatted string) that lives as long as the builder. */
const char *vg_onnx_intern (VgOnnxBuilder *b, const char *s);
const char *vg_onnx_printf (VgOnnxBuilder *b, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Initializers: the data is copied. Returns the tensor's name. */
const char *vg_onnx_initializer (VgOnnxBuilder *b, const char *name, int data_type,
                                 const void *data, int ndim, const int64_t *dims);
/* A constant shared by every node that uses the same value: a float scalar, or a 1-D int64
 * vector (shapes, axes, split sizes, permutations given as tensors). */
const char *vg_onnx_scalar (VgOnnxBuilder *b, float value);
const char *vg_onnx_int64s (VgOnnxBuilder *b, int n, const int64_t *values);

/* A graph input or output: dims[i] >= 0 is a fixed size, dims[i] < 0 the symbolic
 * dimension named params[i] ("batch", "height"). */
void vg_onnx_input (VgOnnxBuilder *b, const char *name, int elem_type, int ndim,
                    const int64_t *dims, const char *const *params);
void vg_onnx_output (VgOnnxBuilder *b, const char *name, int elem_type, int ndim,
                     const int64_t *dims, const char *const *params);

/* A node of the default domain with one output named after out (made unique) and the
 * NULL-terminated inputs ("" is an omitted optional input). */
Onnx__NodeProto *vg_onnx_node (VgOnnxBuilder *b, const char *op_type, const char *out, ...)
  G_GNUC_NULL_TERMINATED;
/* The same with several outputs: outs[n_out] are name hints, inputs NULL-terminated. */
Onnx__NodeProto *vg_onnx_node_n (VgOnnxBuilder *b, const char *op_type, int n_out,
                                 const char *const *outs, ...) G_GNUC_NULL_TERMINATED;

/* Attributes of a node (at most 8 per node). */
void vg_onnx_attr_int (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name,
                       int64_t value);
void vg_onnx_attr_float (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name,
                         float value);
void vg_onnx_attr_string (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name,
                          const char *value);
void vg_onnx_attr_ints (VgOnnxBuilder *b, Onnx__NodeProto *node, const char *name, int n,
                        const int64_t *values);

/* A metadata_props entry of the model. */
void vg_onnx_metadata (VgOnnxBuilder *b, const char *key, const char *value);

/* The ModelProto (IR version of this onnx.proto, one opset import of the default domain)
 * serialised; NULL only if protobuf-c packs another size than it announced. */
GBytes *vg_onnx_builder_serialize (VgOnnxBuilder *b, int64_t opset, const char *producer,
                                   const char *producer_version, const char *doc_string);

/* Nodes, initializers and their total bytes so far (for messages and tests). */
int vg_onnx_builder_n_nodes (const VgOnnxBuilder *b);
int vg_onnx_builder_n_initializers (const VgOnnxBuilder *b);
