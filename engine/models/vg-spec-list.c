/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Building a parameter table (vg-spec-list.h). */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "vg-spec-list.h"

void
vg_spec_list_add (VgSpecList *list, VgTensorKind kind, int ndim, const int *shape,
                  const char *format, ...)
{
  if (list->specs != NULL && list->count < list->max)
    {
      VgParamSpec *p = &list->specs[list->count];
      va_list args;

      memset (p, 0, sizeof *p);
      va_start (args, format);
      g_vsnprintf (p->name, sizeof p->name, format, args);
      va_end (args);
      p->kind = kind;
      p->ndim = ndim;
      p->numel = 1;
      for (int i = 0; i < ndim; i++)
        {
          p->shape[i] = shape[i];
          p->numel *= (size_t) shape[i];
        }
    }
  list->count++;
}

void
vg_spec_list_conv (VgSpecList *l, const char *prefix, int cout, int cin_per_group, int k,
                   gboolean bias)
{
  int w[4] = { cout, cin_per_group, k, k };

  vg_spec_list_add (l, VG_TENSOR_PARAM, 4, w, "%s.weight", prefix);
  if (bias)
    vg_spec_list_add (l, VG_TENSOR_PARAM, 1, &cout, "%s.bias", prefix);
}

void
vg_spec_list_conv_transpose (VgSpecList *l, const char *prefix, int cin, int cout, int k)
{
  int w[4] = { cin, cout, k, k };

  vg_spec_list_add (l, VG_TENSOR_PARAM, 4, w, "%s.weight", prefix);
  vg_spec_list_add (l, VG_TENSOR_PARAM, 1, &cout, "%s.bias", prefix);
}

void
vg_spec_list_linear (VgSpecList *l, const char *prefix, int cout, int cin)
{
  int w[2] = { cout, cin };

  vg_spec_list_add (l, VG_TENSOR_PARAM, 2, w, "%s.weight", prefix);
  vg_spec_list_add (l, VG_TENSOR_PARAM, 1, &cout, "%s.bias", prefix);
}

void
vg_spec_list_layernorm (VgSpecList *l, const char *prefix, int c)
{
  vg_spec_list_add (l, VG_TENSOR_PARAM, 1, &c, "%s.weight", prefix);
  vg_spec_list_add (l, VG_TENSOR_PARAM, 1, &c, "%s.bias", prefix);
}

void
vg_spec_list_batchnorm (VgSpecList *l, const char *prefix, int c)
{
  vg_spec_list_add (l, VG_TENSOR_PARAM, 1, &c, "%s.weight", prefix);
  vg_spec_list_add (l, VG_TENSOR_PARAM, 1, &c, "%s.bias", prefix);
  vg_spec_list_add (l, VG_TENSOR_BUFFER, 1, &c, "%s.running_mean", prefix);
  vg_spec_list_add (l, VG_TENSOR_BUFFER, 1, &c, "%s.running_var", prefix);
  vg_spec_list_add (l, VG_TENSOR_COUNTER, 0, NULL, "%s.num_batches_tracked", prefix);
}
