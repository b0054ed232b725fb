/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tests that register themselves where they are defined (as GoogleTest's and Criterion's
 * TEST macros do), so that no file keeps a list of its tests in main() in step by hand.
 *
 * How to add a test: define it with its GLib test path,
 *
 *   VG_TEST ("/config/names", test_names)
 *   {
 *     g_assert_cmpstr (...);
 *   }
 *
 * and it runs in the file's executable; nothing else to edit. The tests of a file are added
 * in the order in which they stand in it. A file whose main() only runs its tests ends with
 *
 *   VG_TEST_MAIN ()
 *
 * A main() that does more (a scratch folder, arguments, a display, tests with data or a
 * fixture) keeps its own body and calls vg_test_add_registered () after g_test_init (or
 * gtk_test_init) where it would have listed its tests. A new test file is also registered
 * in tests/meson.build, as before. Each test executable is one C file: the list below is
 * per file. */
#pragma once

#include <glib.h>

typedef struct VgTestEntry VgTestEntry;
struct VgTestEntry
{
  const char *path;
  GTestFunc func;
  int line;
  VgTestEntry *next;
};

/* The tests of this file, ordered by line. */
static inline VgTestEntry **
vg_test_registered (void)
{
  static VgTestEntry *first;

  return &first;
}

/* Runs before main() (from VG_TEST's constructor): inserts entry by its line, since the
 * order in which constructors run is not the file's order everywhere. */
static inline void
vg_test_register (VgTestEntry *entry)
{
  VgTestEntry **at = vg_test_registered ();

  while (*at != NULL && (*at)->line < entry->line)
    at = &(*at)->next;
  entry->next = *at;
  *at = entry;
}

/* Adds every VG_TEST of this file to GLib's tests, in the file's order. */
static inline void
vg_test_add_registered (void)
{
  for (VgTestEntry *e = *vg_test_registered (); e != NULL; e = e->next)
    g_test_add_func (e->path, e->func);
}

#define VG_TEST(test_path, func)                                                             \
  static void func (void);                                                                   \
  __attribute__ ((constructor)) static void func##_register (void)                           \
  {                                                                                          \
    static VgTestEntry entry = { test_path, func, __LINE__, NULL };                          \
                                                                                             \
    vg_test_register (&entry);                                                               \
  }                                                                                          \
  static void func (void)

#define VG_TEST_MAIN()                                                                       \
  int                                                                                        \
  main (int argc, char *argv[])                                                              \
  {                                                                                          \
    g_test_init (&argc, &argv, NULL);                                                        \
    vg_test_add_registered ();                                                               \
    return g_test_run ();                                                                    \
  }
