/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "vg-classes.h"

#include <string.h>

typedef struct {
  const char *name;
  const char *label;
  uint8_t rgb[3];
  int mirror;
  int long_tail;
} VgClassInfo;

/* Order, names and palette follow the CelebAMask-HQ masks (palette index = class id). */
static const VgClassInfo classes[VG_NUM_CLASSES] = {
  { "background", "Background", { 0, 0, 0 }, VG_CLASS_BACKGROUND, 0 },
  { "skin", "Skin", { 204, 0, 0 }, VG_CLASS_SKIN, 0 },
  { "nose", "Nose", { 76, 153, 0 }, VG_CLASS_NOSE, 0 },
  { "eye_g", "Eyeglasses", { 204, 204, 0 }, VG_CLASS_EYE_G, 1 },
  { "l_eye", "Left eye", { 51, 51, 255 }, VG_CLASS_R_EYE, 0 },
  { "r_eye", "Right eye", { 204, 0, 204 }, VG_CLASS_L_EYE, 0 },
  { "l_brow", "Left brow", { 0, 255, 255 }, VG_CLASS_R_BROW, 0 },
  { "r_brow", "Right brow", { 255, 204, 204 }, VG_CLASS_L_BROW, 0 },
  { "l_ear", "Left ear", { 102, 51, 0 }, VG_CLASS_R_EAR, 0 },
  { "r_ear", "Right ear", { 255, 0, 0 }, VG_CLASS_L_EAR, 0 },
  { "mouth", "Mouth", { 102, 204, 0 }, VG_CLASS_MOUTH, 0 },
  { "u_lip", "Upper lip", { 255, 255, 0 }, VG_CLASS_U_LIP, 0 },
  { "l_lip", "Lower lip", { 0, 0, 153 }, VG_CLASS_L_LIP, 0 },
  { "hair", "Hair", { 0, 0, 204 }, VG_CLASS_HAIR, 0 },
  { "hat", "Hat", { 255, 51, 153 }, VG_CLASS_HAT, 1 },
  { "ear_r", "Earring", { 0, 204, 204 }, VG_CLASS_EAR_R, 1 },
  { "neck_l", "Necklace", { 0, 51, 0 }, VG_CLASS_NECK_L, 1 },
  { "neck", "Neck", { 255, 153, 51 }, VG_CLASS_NECK, 0 },
  { "cloth", "Clothes", { 0, 204, 0 }, VG_CLASS_CLOTH, 0 },
};

static int
valid (int cls)
{
  return cls >= 0 && cls < VG_NUM_CLASSES;
}

const char *
vg_class_name (int cls)
{
  return valid (cls) ? classes[cls].name : "invalid";
}

const char *
vg_class_label (int cls)
{
  return valid (cls) ? classes[cls].label : "Invalid";
}

const uint8_t *
vg_class_rgb (int cls)
{
  static const uint8_t grey[3] = { 128, 128, 128 };
  return valid (cls) ? classes[cls].rgb : grey;
}

int
vg_class_mirror (int cls)
{
  return valid (cls) ? classes[cls].mirror : cls;
}

int
vg_class_is_long_tail (int cls)
{
  return valid (cls) ? classes[cls].long_tail : 0;
}

int
vg_class_from_name (const char *name)
{
  if (name == NULL)
    return -1;
  for (int i = 0; i < VG_NUM_CLASSES; i++)
    if (strcmp (classes[i].name, name) == 0)
      return i;
  return -1;
}
