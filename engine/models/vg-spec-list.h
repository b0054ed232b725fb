/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Building a parameter table (vg_config_param_specs): tensors appended in state_dict order
 * with PyTorch's names and shapes. With specs NULL (or full) only the count grows, so the
 * same code counts and fills. */
#pragma once

#include "vg-config.h"

typedef struct {
  VgParamSpec *specs;
  int max;
  int count;
} VgSpecList;

void vg_spec_list_add (VgSpecList *list, VgTensorKind kind, int ndim, const int *shape,
                       const char *format, ...) G_GNUC_PRINTF (5, 6);
/* prefix.weight (Cout, Cin/G, K, K) and, with bias, prefix.bias (Cout). */
void vg_spec_list_conv (VgSpecList *l, const char *prefix, int cout, int cin_per_group, int k,
                        gboolean bias);
/* ConvTranspose2d: prefix.weight (Cin, Cout, K, K) and prefix.bias (Cout). */
void vg_spec_list_conv_transpose (VgSpecList *l, const char *prefix, int cin, int cout, int k);
/* prefix.weight (Cout, Cin) and prefix.bias (Cout). */
void vg_spec_list_linear (VgSpecList *l, const char *prefix, int cout, int cin);
/* LayerNorm: prefix.weight, prefix.bias (C). */
void vg_spec_list_layernorm (VgSpecList *l, const char *prefix, int c);
/* BatchNorm2d: weight, bias (C), running_mean, running_var (C) and the I64 counter. */
void vg_spec_list_batchnorm (VgSpecList *l, const char *prefix, int c);
