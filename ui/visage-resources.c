/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>

#include "visage-resources.h"
#include "visage-resources-bundle.h"

void
visage_resources_ensure (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      visage_register_resource ();
      g_once_init_leave (&done, 1);
    }
}
