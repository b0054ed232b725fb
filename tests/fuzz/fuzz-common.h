/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shared by the libFuzzer targets of tests/fuzz: a private folder in tmpfs for the inputs
 * of path-based parsers, and the checks every target makes of a rejection.
 *
 * A rejected input must come back as a GError whose message names the file (the engine's
 * contract for every reader); a message that does not, or FALSE without an error, aborts
 * the run so that libFuzzer records the input as a crash. GLib criticals (a precondition
 * that failed inside the engine) are fatal too. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Set up once (LLVMFuzzerInitialize calls it): the folder, fatal criticals, one thread. */
void fuzz_init (void);

/* The private folder (created by fuzz_init, removed at exit). */
const char *fuzz_dir (void);

/* Write data to fuzz_dir()/name (replacing it) and return that path (owned here, valid
 * until the next call with the same name). */
const char *fuzz_write (const char *name, const uint8_t *data, size_t size);

/* Abort unless error is set and its message contains the file name of path (the last
 * component, so that a display name or a relative path also counts). With FUZZ_VERBOSE
 * set, print the message (to see how far a seed gets: run a target on one file). */
void fuzz_check_error (const GError *error, const char *path);

/* Abort with a message: an invariant of the target does not hold. */
G_NORETURN void fuzz_fail (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* What the libFuzzer driver calls; each target defines it. */
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);
