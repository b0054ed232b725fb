/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The 19 CelebAMask-HQ face parsing classes: ids, names, palette, left/right pairs. */
#pragma once

#include <stdint.h>

#define VG_NUM_CLASSES 19

typedef enum {
  VG_CLASS_BACKGROUND = 0,
  VG_CLASS_SKIN,
  VG_CLASS_NOSE,
  VG_CLASS_EYE_G,
  VG_CLASS_L_EYE,
  VG_CLASS_R_EYE,
  VG_CLASS_L_BROW,
  VG_CLASS_R_BROW,
  VG_CLASS_L_EAR,
  VG_CLASS_R_EAR,
  VG_CLASS_MOUTH,
  VG_CLASS_U_LIP,
  VG_CLASS_L_LIP,
  VG_CLASS_HAIR,
  VG_CLASS_HAT,
  VG_CLASS_EAR_R,
  VG_CLASS_NECK_L,
  VG_CLASS_NECK,
  VG_CLASS_CLOTH,
} VgClass;

/* Short id as used by the data set ("l_eye"), never translated. */
const char *vg_class_name (int cls);
/* Human-readable English label ("Left eye"); the UI translates it. */
const char *vg_class_label (int cls);
/* Palette colour of the data set's masks, 3 bytes RGB. */
const uint8_t *vg_class_rgb (int cls);
/* The class a horizontal flip turns this class into (l_eye <-> r_eye, ...). */
int vg_class_mirror (int cls);
/* Rare classes that deserve their own view (eyeglasses, hat, earring, necklace). */
int vg_class_is_long_tail (int cls);
/* Class id for a short name, or -1. */
int vg_class_from_name (const char *name);
