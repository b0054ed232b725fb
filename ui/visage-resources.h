/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Register the compiled-in GResource (templates, CSS, shortcuts) once. The bundle is
 * registered by hand because it lives in a static library, where an unreferenced
 * constructor would be dropped by the linker. */
void visage_resources_ensure (void);
