/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The architectures the engine knows (vg-model-private.h): a new one is a case here, a
 * value of VgArchitecture and a named configuration in vg-config.c. */
#include "config.h"

#include "vg-model-private.h"

const VgArch *
vg_arch_get (VgArchitecture arch)
{
  switch (arch)
    {
    case VG_ARCH_UNET:
      return &vg_arch_unet;
    case VG_ARCH_DEEPLABV3PLUS:
      return &vg_arch_deeplabv3plus;
    case VG_ARCH_FASTSCNN:
      return &vg_arch_fastscnn;
    case VG_ARCH_SEGFORMER:
    case VG_N_ARCHS:
    default:
      return &vg_arch_segformer;
    }
}
