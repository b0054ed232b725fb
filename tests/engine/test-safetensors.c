/* SPDX-License-Identifier: GPL-3.0-or-later */
/* safetensors reader and writer, and the PyTorch reference fixtures.
 *
 * The reader must turn every malformed or truncated file into a GError that names the file
 * and the reason, never a crash: the rejection cases are written by hand, every strict
 * prefix of a valid file is tried, and every header byte is overwritten with JSON-significant
 * values (those may or may not parse; the test asserts only "a result or an error, never
 * both, never neither, no crash"; run it under the sanitize build for out-of-bounds reads).
 *
 * The fixture tests open tests/reference/fixtures/{small,seed}.safetensors, check that the
 * engine's parameter table lists exactly the tensors the PyTorch reference differentiated,
 * and that tests/reference/ref-init.h reproduces the reference's input, labels and initial
 * weights bit for bit. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vg-config.h"
#include "vg-safetensors.h"
#include "reference/ref-init.h"
#include "engine/reference-util.h"
#include "test-common.h"
#include "test-register.h"

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* Plain write, no fsync (g_file_set_contents syncs, which makes thousands of cases slow). */
static void
put_file (const char *path, const void *bytes, size_t len)
{
  FILE *f = fopen (path, "wb");

  g_assert_nonnull (f);
  g_assert_cmpuint (fwrite (bytes, 1, len, f), ==, len);
  g_assert_cmpint (fclose (f), ==, 0);
}

static char *
write_file (const char *name, const void *bytes, size_t len)
{
  char *path = tmp_path (name);

  put_file (path, bytes, len);
  return path;
}

/* 8-byte little-endian header length, the header text as given, then data_len zero bytes. */
static char *
write_with_header (const char *name, const char *header, size_t data_len)
{
  size_t hlen = strlen (header);
  g_autofree guint8 *buf = g_malloc0 (8 + hlen + data_len);
  guint64 len_le = GUINT64_TO_LE ((guint64) hlen);

  memcpy (buf, &len_le, 8);
  memcpy (buf + 8, header, hlen);
  return write_file (name, buf, 8 + hlen + data_len);
}

/* The file must be rejected with INVALID, a message naming it and containing needle. */
static void
assert_rejected (const char *path, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = vg_safetensors_open (path, &error);
  g_autofree char *base = g_path_get_basename (path);

  g_assert_null (st);
  g_assert_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, base));
  if (strstr (error->message, needle) == NULL)
    g_error ("message “%s” lacks “%s”", error->message, needle);
}

static void
clear_tmp_dir (void)
{
  g_autoptr (GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = tmp_path (name);
      g_unlink (path);
    }
}

/* ---- round trip ------------------------------------------------------------------------- */

static const float f32_data[6] = { -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 3.25f };
/* 1, -2.5, 65504 (largest half), 2^-24 (smallest subnormal), +inf */
static const uint16_t f16_data[5] = { 0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00 };
static const uint16_t bf16_data[2] = { 0x3f80, 0xc020 };  /* 1, -2.5 */
static const int64_t i64_data[1] = { -42 };
static const uint8_t u8_data[4] = { 0, 7, 255, 128 };

static int
sample_tensors (VgTensorView *t)
{
  memset (t, 0, 6 * sizeof *t);
  t[0] = (VgTensorView) { "t_f32", VG_DTYPE_F32, 2, { 2, 3 }, 6, f32_data, sizeof f32_data };
  t[1] = (VgTensorView) { "t_f16", VG_DTYPE_F16, 1, { 5 }, 5, f16_data, sizeof f16_data };
  t[2] = (VgTensorView) { "t_bf16", VG_DTYPE_BF16, 1, { 2 }, 2, bf16_data, sizeof bf16_data };
  t[3] = (VgTensorView) { "t_i64", VG_DTYPE_I64, 0, { 0 }, 1, i64_data, sizeof i64_data };
  t[4] = (VgTensorView) { "t_u8", VG_DTYPE_U8, 1, { 4 }, 4, u8_data, sizeof u8_data };
  t[5] = (VgTensorView) { "t_empty", VG_DTYPE_F32, 2, { 0, 3 }, 0, NULL, 0 };
  return 6;
}

static const char *const sample_metadata[] = {
  "config", "widths=16,32,128,192 depths=1,2,2,2 heads=2,2,2,8 ratios=1,1,1,1 mlp=4",
  "tricky", "say \"hi\" \\ back\nslash\ttab \x01 caf\xc3\xa9",
  "empty", "",
  NULL,
};

VG_TEST ("/safetensors/roundtrip", test_roundtrip)
{
  VgTensorView in[6];
  int n = sample_tensors (in);
  g_autofree char *path = tmp_path ("round.safetensors");
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *listing = NULL;
  gsize size;
  guint64 hlen;
  float f[6];

  clear_tmp_dir ();
  g_assert_true (vg_safetensors_write (path, in, n, sample_metadata, &error));
  g_assert_no_error (error);
  listing = vg_test_dir_listing (tmp_dir);
  g_assert_cmpstr (listing, ==, "round.safetensors");  /* no temporary file left behind */

  /* Layout: the header is padded to a multiple of 8 and lists the tensors in order. */
  g_assert_true (g_file_get_contents (path, &bytes, &size, NULL));
  memcpy (&hlen, bytes, 8);
  hlen = GUINT64_FROM_LE (hlen);
  g_assert_cmpuint (hlen % 8, ==, 0);
  g_assert_cmpuint (size, ==, 8 + hlen + 24 + 10 + 4 + 8 + 4);
  {
    g_autofree char *header = g_strndup (bytes + 8, hlen);
    const char *prev = strstr (header, "__metadata__");

    g_assert_nonnull (prev);
    for (int i = 0; i < n; i++)
      {
        g_autofree char *quoted = g_strdup_printf ("\"%s\"", in[i].name);
        const char *at = strstr (header, quoted);
        g_assert_nonnull (at);
        g_assert_true (at > prev);
        prev = at;
      }
  }

  st = vg_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (st);
  g_assert_cmpint (vg_safetensors_n_tensors (st), ==, n);
  g_assert_null (vg_safetensors_get (st, n));
  g_assert_null (vg_safetensors_get (st, -1));
  for (int i = 0; i < n; i++)
    {
      const VgTensorView *t = vg_safetensors_get (st, i);

      g_assert_cmpstr (t->name, ==, in[i].name);
      g_assert_true (vg_safetensors_find (st, in[i].name) == t);
      g_assert_cmpint (t->dtype, ==, in[i].dtype);
      g_assert_cmpint (t->ndim, ==, in[i].ndim);
      for (int d = 0; d < t->ndim; d++)
        g_assert_cmpint (t->shape[d], ==, in[i].shape[d]);
      g_assert_cmpuint (t->numel, ==, in[i].numel);
      g_assert_cmpmem (t->data, t->nbytes, in[i].data, in[i].nbytes);
    }
  g_assert_null (vg_safetensors_find (st, "absent"));
  for (int i = 0; sample_metadata[i] != NULL; i += 2)
    g_assert_cmpstr (vg_safetensors_metadata (st, sample_metadata[i]), ==,
                     sample_metadata[i + 1]);
  g_assert_null (vg_safetensors_metadata (st, "absent"));

  /* F32 copies, F16 and BF16 convert exactly. */
  {
    const int shape[2] = { 2, 3 };
    g_assert_true (vg_safetensors_read_f32 (st, "t_f32", f, shape, 2, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (f, sizeof f32_data, f32_data, sizeof f32_data);
  }
  g_assert_true (vg_safetensors_read_f32 (st, "t_f16", f, NULL, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (f[0], ==, 1.0f);
  g_assert_cmpfloat (f[1], ==, -2.5f);
  g_assert_cmpfloat (f[2], ==, 65504.0f);
  g_assert_cmpfloat (f[3], ==, ldexpf (1.0f, -24));
  g_assert_true (isinf (f[4]) && f[4] > 0);
  g_assert_true (vg_safetensors_read_f32 (st, "t_bf16", f, NULL, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (f[0], ==, 1.0f);
  g_assert_cmpfloat (f[1], ==, -2.5f);

  /* Shape, presence and dtype are checked. */
  {
    const int wrong[2] = { 3, 2 };
    const int flat[1] = { 6 };

    vg_test_assert_fails (vg_safetensors_read_f32 (st, "t_f32", f, wrong, 2, &error), error,
                          VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISMATCH, "(2, 3)", "(3, 2)");
    vg_test_assert_fails (vg_safetensors_read_f32 (st, "t_f32", f, flat, 1, &error), error,
                          VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISMATCH, NULL);
  }
  vg_test_assert_fails (vg_safetensors_read_f32 (st, "zzz", f, NULL, 0, &error), error,
                        VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISSING, "zzz",
                        "round.safetensors");
  vg_test_assert_fails (vg_safetensors_read_f32 (st, "t_i64", f, NULL, 0, &error), error,
                        VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_MISMATCH, NULL);

  /* Rewriting replaces the file. */
  g_clear_pointer (&st, vg_safetensors_free);
  g_assert_true (vg_safetensors_write (path, &in[4], 1, NULL, &error));
  g_assert_no_error (error);
  st = vg_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vg_safetensors_n_tensors (st), ==, 1);
  g_assert_cmpstr (vg_safetensors_get (st, 0)->name, ==, "t_u8");
  g_assert_null (vg_safetensors_metadata (st, "config"));
}

/* ---- rejection -------------------------------------------------------------------------- */

VG_TEST ("/safetensors/reject-short", test_reject_short)
{
  static const guint8 zeros[8] = { 0 };

  /* Shorter than the 8-byte length. */
  for (size_t len = 0; len < 8; len++)
    {
      g_autofree char *path = write_file ("short.safetensors", zeros, len);
      assert_rejected (path, "shorter than");
    }
  /* A header length beyond the file, and one that would wrap a size_t. */
  {
    guint8 buf[8 + 10] = { 0 };
    guint64 len = GUINT64_TO_LE (100);
    g_autofree char *path = NULL;

    memcpy (buf, &len, 8);
    path = write_file ("long.safetensors", buf, sizeof buf);
    assert_rejected (path, "exceeds the file size");
  }
  {
    guint8 buf[8 + 4] = { 0 };
    guint64 len = GUINT64_TO_LE (G_GUINT64_CONSTANT (0xfffffffffffffffc));
    g_autofree char *path = NULL;

    memcpy (buf, &len, 8);
    path = write_file ("huge.safetensors", buf, sizeof buf);
    assert_rejected (path, "exceeds the file size");
  }
}

#define T1(dtype, shape, offsets) \
  "{\"t\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}}"

VG_TEST ("/safetensors/reject-header", test_reject_header)
{
  static const struct {
    const char *header;
    size_t data_len;
    const char *needle;
  } cases[] = {
    /* invalid JSON */
    { "", 0, "end of header" },
    { "{\"a\":", 0, "invalid JSON" },
    { "{\"a\" 1}", 0, "invalid JSON" },
    { "{\"a\":{}} x", 0, "end of the header" },
    { "{\"a\":{},}", 0, "member name" },
    { "{\"a\":[1,]}", 0, "invalid JSON" },
    { "{\"a\":1.5}", 0, "only integers" },
    { "{\"a\":1e3}", 0, "only integers" },
    { "{\"a\":01}", 0, "leading zero" },
    { "{\"a\":-}", 0, "digit" },
    { "{\"a\":99999999999999999999}", 0, "out of range" },
    { "{\"a\\q\":1}", 0, "invalid escape" },
    { "{\"a\\u12\":1}", 0, "\\u escape" },
    { "{\"a\x01\":1}", 0, "control character" },
    { "{\"abc", 0, "unterminated string" },
    { "{\"\\udc00\":1}", 0, "surrogate" },
    { "{\"\\ud800x\":1}", 0, "surrogate" },
    { "{\"\\u0000\":1}", 0, "NUL" },
    { "{\"\xff\xfe\":1}", 0, "UTF-8" },
    { "{\"a\":true}", 0, "expected an object" },
    { "{\"a\":null}", 0, "expected an object" },
    { "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]", 0, "nesting" },
    /* not an object */
    { "[1,2]", 0, "not a JSON object" },
    { "\"text\"", 0, "not a JSON object" },
    { "5", 0, "not a JSON object" },
    /* dtype */
    { T1 ("F64", "[1]", "[0,8]"), 8, "unsupported dtype “F64”" },
    { T1 ("f32", "[1]", "[0,4]"), 4, "unsupported dtype" },
    { "{\"t\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string" },
    /* shape against offsets */
    { T1 ("F32", "[3]", "[0,8]"), 8, "needs 12 bytes" },
    { T1 ("F16", "[2,2]", "[0,4]"), 4, "needs 8 bytes" },
    { T1 ("F32", "[-1]", "[0,4]"), 4, "negative dimension" },
    { T1 ("F32", "[4611686018427387904,4]", "[0,0]"), 0, "overflows" },
    { T1 ("F32", "[4611686018427387904,4611686018427387904,0]", "[0,0]"), 0, "overflows" },
    { T1 ("U8", "[1152921504606846976,16]", "[0,0]"), 0, "overflows" },
    { T1 ("F32", "[1152921504606846976]", "[0,4611686018427387904]"), 8, "outside" },
    { T1 ("F32", "\"4\"", "[0,16]"), 16, "shape is not an array" },
    { T1 ("F32", "[1,\"2\"]", "[0,8]"), 8, "shape[1]" },
    { T1 ("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 4, "dimensions" },
    /* offsets */
    { T1 ("F32", "[2]", "[8,0]"), 8, "out of order" },
    { T1 ("F32", "[1]", "[-4,0]"), 4, "out of order" },
    { T1 ("F32", "[2]", "[0,8,16]"), 16, "two integers" },
    { T1 ("F32", "[2]", "[0]"), 8, "two integers" },
    { T1 ("F32", "[2]", "[0,8]"), 4, "outside" },             /* truncated data */
    { T1 ("F32", "[1]", "[4,8]"), 4, "outside" },
    { T1 ("F32", "[1]", "[0,4]"), 8, "stray bytes" },          /* junk after the data */
    { T1 ("F32", "[1]", "[4,8]"), 8, "gap" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "overlaps" },
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "gap" },
    /* names and entries */
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "duplicate name" },
    { "{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
      "duplicate name" },
    { "{\"t\":5}", 0, "is not an object" },
    { "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks “data_offsets”" },
    { "{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "lacks “dtype”" },
    { "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
      "unknown field “x”" },
    /* metadata */
    { "{\"__metadata__\":{\"k\":1}}", 0, "metadata “k”" },
    { "{\"__metadata__\":[]}", 0, "“__metadata__” is not an object" },
  };

  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("case-%02zu.safetensors", i);
      g_autofree char *path = write_with_header (name, cases[i].header, cases[i].data_len);

      g_autofree char *shown = g_strescape (cases[i].header, NULL);

      g_test_message ("case %zu: %s", i, shown);
      assert_rejected (path, cases[i].needle);
    }

  /* Controls: the same shapes written correctly are accepted, padding included. */
  {
    g_autofree char *path = write_with_header ("good.safetensors",
                                               T1 ("F32", "[2]", "[0,8]") "   \n", 8);
    g_autoptr (GError) error = NULL;
    g_autoptr (VgSafetensors) st = vg_safetensors_open (path, &error);

    g_assert_no_error (error);
    g_assert_cmpint (vg_safetensors_n_tensors (st), ==, 1);
  }
  {
    /* A \u escape with a surrogate pair, and zero-size tensors sharing an offset. */
    g_autofree char *path = write_with_header (
        "good2.safetensors",
        "{\"\\ud83d\\ude00\\u00e9\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
        "\"c\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[2,2]}}", 2);
    g_autoptr (GError) error = NULL;
    g_autoptr (VgSafetensors) st = vg_safetensors_open (path, &error);

    g_assert_no_error (error);
    g_assert_nonnull (vg_safetensors_find (st, "\xf0\x9f\x98\x80\xc3\xa9"));
    g_assert_cmpint (vg_safetensors_n_tensors (st), ==, 3);
  }

  {
    g_autofree char *missing = tmp_path ("does-not-exist.safetensors");
    g_autoptr (GError) error = NULL;
    g_autoptr (VgSafetensors) st = vg_safetensors_open (missing, &error);

    g_assert_null (st);
    g_assert_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_IO);
    g_assert_nonnull (strstr (error->message, "does-not-exist.safetensors"));
  }

  /* Not regular files: refused at once by name (reading a FIFO blocked until a writer
   * came, forever under `eval --model FIFO`). */
  {
    g_autofree char *fifo = tmp_path ("fifo.safetensors");
    g_autofree char *folder = tmp_path ("folder.safetensors");
    const char *paths[] = { fifo, folder };

    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
    for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (VgSafetensors) st = vg_safetensors_open (paths[i], &error);

        g_assert_null (st);
        g_assert_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_IO);
        g_assert_nonnull (strstr (error->message, paths[i]));
        g_assert_nonnull (strstr (error->message, "not a regular file"));
      }
    g_unlink (fifo);
    g_rmdir (folder);
  }
}

/* A valid file with metadata and several dtypes, as bytes. */
static char *
valid_file_bytes (gsize *size)
{
  VgTensorView in[6];
  int n = sample_tensors (in);
  g_autofree char *path = tmp_path ("valid.safetensors");
  g_autoptr (GError) error = NULL;
  char *bytes = NULL;

  g_assert_true (vg_safetensors_write (path, in, n, sample_metadata, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &bytes, size, NULL));
  return bytes;
}

VG_TEST ("/safetensors/truncations", test_truncations)
{
  gsize size;
  g_autofree char *bytes = valid_file_bytes (&size);
  g_autofree char *path = tmp_path ("prefix.safetensors");

  g_assert_cmpuint (size, >, 100);
  /* Every strict prefix is rejected cleanly: the tensors must tile the data area. */
  for (gsize len = 0; len < size; len++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (VgSafetensors) st = NULL;

      put_file (path, bytes, len);
      st = vg_safetensors_open (path, &error);
      g_assert_null (st);
      g_assert_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, "prefix.safetensors"));
    }
  /* And the whole file is fine. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (VgSafetensors) st = NULL;

    put_file (path, bytes, size);
    st = vg_safetensors_open (path, &error);
    g_assert_no_error (error);
  }
}

VG_TEST ("/safetensors/corruptions", test_corruptions)
{
  static const guint8 values[] = { 0x00, ' ', '"', '\\', '{', '}', '[', ']', ',', ':', '0',
                                   '9', '-', 'e', 0x80, 0xff };
  gsize size;
  g_autofree char *bytes = valid_file_bytes (&size);
  g_autofree char *path = tmp_path ("corrupt.safetensors");
  guint64 hlen;
  int accepted = 0, rejected = 0;

  memcpy (&hlen, bytes, 8);
  hlen = GUINT64_FROM_LE (hlen);
  /* Every byte of the length and the header, overwritten with each value: a result or an
   * error, never both, never neither. */
  for (gsize pos = 0; pos < 8 + hlen; pos++)
    for (size_t v = 0; v < G_N_ELEMENTS (values); v++)
      {
        g_autofree char *copy = g_memdup2 (bytes, size);
        g_autoptr (GError) error = NULL;
        g_autoptr (VgSafetensors) st = NULL;

        copy[pos] = (char) values[v];
        put_file (path, copy, size);
        st = vg_safetensors_open (path, &error);
        g_assert_true ((st == NULL) != (error == NULL));
        if (st != NULL)
          {
            /* Whatever was accepted must lie inside the file. */
            for (int i = 0; i < vg_safetensors_n_tensors (st); i++)
              {
                const VgTensorView *t = vg_safetensors_get (st, i);
                g_assert_cmpuint (t->nbytes, <=, size);
              }
            accepted++;
          }
        else
          rejected++;
      }
  g_test_message ("%d corrupted files accepted, %d rejected", accepted, rejected);
  g_assert_cmpint (rejected, >, 0);
  g_assert_cmpint (accepted, >, 0);  /* e.g. a digit inside a metadata value */
}

/* ---- write errors ----------------------------------------------------------------------- */

VG_TEST ("/safetensors/write-errors", test_write_errors)
{
  VgTensorView in[6];
  int n = sample_tensors (in);
  g_autoptr (GError) error = NULL;

  clear_tmp_dir ();

  /* A folder that does not exist. */
  {
    g_autofree char *path = g_build_filename (tmp_dir, "no", "such", "x.safetensors", NULL);

    g_assert_false (vg_safetensors_write (path, in, n, NULL, &error));
    g_assert_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_IO);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "no/such/x.safetensors"));
    g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
    g_clear_error (&error);
  }

  /* Bad tensors: nothing is written, an existing file is left intact, no temporary stays. */
  {
    g_autofree char *path = tmp_path ("keep.safetensors");
    g_autofree char *listing = NULL;
    g_autoptr (VgSafetensors) st = NULL;
    VgTensorView bad[2];

    g_assert_true (vg_safetensors_write (path, in, n, sample_metadata, &error));
    g_assert_no_error (error);

    bad[0] = in[0];
    bad[1] = in[1];
    bad[1].name = "t_f32";
    vg_test_assert_fails (vg_safetensors_write (path, bad, 2, NULL, &error), error,
                          VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID, "duplicate");

    bad[1] = in[1];
    bad[1].numel = 4;  /* shape says 5 */
    vg_test_assert_fails (vg_safetensors_write (path, bad, 2, NULL, &error), error,
                          VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID, "t_f16");

    {
      const char *const odd[] = { "key", NULL };
      vg_test_assert_fails (vg_safetensors_write (path, in, n, odd, &error), error,
                            VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_INVALID, NULL);
    }

    listing = vg_test_dir_listing (tmp_dir);
    g_assert_cmpstr (listing, ==, "keep.safetensors");
    st = vg_safetensors_open (path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (vg_safetensors_n_tensors (st), ==, n);
  }

  /* A full disk: every write to /dev/full fails with ENOSPC. */
  if (g_file_test ("/dev/full", G_FILE_TEST_EXISTS))
    {
      int fd = open ("/dev/full", O_WRONLY | O_CLOEXEC);

      g_assert_cmpint (fd, >=, 0);
      g_assert_false (vg_safetensors_write_fd (fd, "/dev/full", in, n, sample_metadata,
                                               &error));
      close (fd);
      g_assert_error (error, VG_SAFETENSORS_ERROR, VG_SAFETENSORS_ERROR_IO);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, "/dev/full"));
      g_assert_nonnull (strstr (error->message, g_strerror (ENOSPC)));
    }
  else
    g_test_message ("/dev/full is absent: ENOSPC not exercised");
}

/* ---- the PyTorch reference fixtures ----------------------------------------------------- */

/* tests/reference/fixtures/<name>: from VISAGE_REFERENCE_DIR, else from the source root
 * that VISAGE_SHARED_DIR (<root>/../shared, set by meson) implies. */
static char *
fixture_path (const char *name)
{
  const char *ref = g_getenv ("VISAGE_REFERENCE_DIR");
  const char *shared = g_getenv ("VISAGE_SHARED_DIR");
  const char *suffix = "/../shared";
  char *path = NULL;

  if (ref != NULL)
    path = g_build_filename (ref, "fixtures", name, NULL);
  else if (shared != NULL && g_str_has_suffix (shared, suffix))
    {
      g_autofree char *root = g_strndup (shared, strlen (shared) - strlen (suffix));
      path = g_build_filename (root, "tests", "reference", "fixtures", name, NULL);
    }
  else
    {
      g_test_skip ("set VISAGE_REFERENCE_DIR to tests/reference to run this test");
      return NULL;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    g_error ("reference fixture %s is missing", path);
  return path;
}

static const VgTensorView *
expect_tensor (VgSafetensors *st, const char *name, VgDType dtype, int ndim,
               const int64_t *shape)
{
  const VgTensorView *t = vg_safetensors_find (st, name);

  if (t == NULL)
    g_error ("fixture lacks tensor %s", name);
  g_assert_cmpint (t->dtype, ==, dtype);
  g_assert_cmpint (t->ndim, ==, ndim);
  for (int d = 0; d < ndim; d++)
    g_assert_cmpint (t->shape[d], ==, shape[d]);
  return t;
}

/* A fixture's input and labels come from the shared generator: equal bit for bit. */
static void
check_fixture_inputs (VgSafetensors *st)
{
  const int64_t in_shape[4] = { 2, 3, 64, 64 };
  const int64_t lab_shape[3] = { 2, 64, 64 };
  size_t n_in = 2 * 3 * 64 * 64, n_lab = 2 * 64 * 64, n_ignored = 0;
  g_autofree float *input = g_new (float, n_in);
  const VgTensorView *t;
  const uint8_t *labels;

  t = expect_tensor (st, "input", VG_DTYPE_F32, 4, in_shape);
  vg_ref_fill_uniform (input, "input", n_in);
  g_assert_cmpmem (t->data, t->nbytes, input, n_in * sizeof (float));

  t = expect_tensor (st, "labels", VG_DTYPE_U8, 3, lab_shape);
  labels = t->data;
  for (size_t i = 0; i < n_lab; i++)
    {
      g_assert_cmpuint (labels[i], ==, vg_ref_label (i, 19));
      n_ignored += labels[i] == VG_REF_IGNORE_INDEX;
    }
  /* (r >> 8) % 97 == 0: about 1 % of the pixels are ignored. */
  g_assert_cmpuint (n_ignored, >, 0);
  g_assert_cmpuint (n_ignored, <, n_lab / 20);
}

/* A fixture's class weights: normalised, rarest class (necklace, 16) weighted most. */
static void
check_fixture_class_weights (VgSafetensors *st)
{
  const int64_t shape[1] = { 19 };
  g_autoptr (GError) error = NULL;
  float w[19];
  double sum = 0;

  expect_tensor (st, "class_weights", VG_DTYPE_F32, 1, shape);
  g_assert_true (vg_safetensors_read_f32 (st, "class_weights", w, NULL, 0, &error));
  for (int c = 0; c < 19; c++)
    {
      sum += w[c];
      g_assert_cmpfloat (w[c], <=, w[16]);
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);  /* float32 rounding of 19 terms */
}

static void
check_fixture (const char *file, const char *config_name, gboolean full_grads)
{
  g_autofree char *path = fixture_path (file);
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = NULL;
  VgConfig cfg;
  int n_specs;
  g_autofree VgParamSpec *specs = NULL;
  const VgTensorView *t;
  int n_grads = 0, n_after = 0;

  if (path == NULL)
    return;
  st = vg_safetensors_open (path, &error);
  g_assert_no_error (error);

  /* The configuration travels as the spec string. */
  g_assert_true (vg_config_from_name (&cfg, "visage-s", &error));
  g_assert_true (vg_config_parse (&cfg, vg_safetensors_metadata (st, "config"), &error));
  g_assert_no_error (error);
  g_assert_cmpstr (cfg.name, ==, config_name);
  g_assert_cmpstr (vg_safetensors_metadata (st, "input_shape"), ==, "2,3,64,64");
  g_assert_cmpstr (vg_safetensors_metadata (st, "ignore_index"), ==, "255");

  check_fixture_inputs (st);
  check_fixture_class_weights (st);

  {
    const int64_t logits_shape[4] = { 2, 19, 64, 64 };
    float loss;

    expect_tensor (st, "logits", VG_DTYPE_F32, 4, logits_shape);
    expect_tensor (st, "loss", VG_DTYPE_F32, 0, NULL);
    g_assert_true (vg_safetensors_read_f32 (st, "loss", &loss, NULL, 0, &error));
    /* Near ln 19 = 2.94 for a freshly initialised model. */
    g_assert_cmpfloat (loss, >, 1.0f);
    g_assert_cmpfloat (loss, <, 6.0f);
  }

  /* The engine's table lists exactly the tensors the reference has, same order and shapes:
   * a gradient (full or summary) per parameter, the state after the step per buffer. */
  n_specs = vg_config_param_specs (&cfg, NULL, 0);
  specs = g_new0 (VgParamSpec, n_specs);
  vg_config_param_specs (&cfg, specs, n_specs);
  for (int i = 0; i < vg_safetensors_n_tensors (st); i++)
    {
      const char *name = vg_safetensors_get (st, i)->name;
      const char *prefix = full_grads ? "grad." : "gsum.";

      if (g_str_has_prefix (name, prefix))
        {
          while (n_grads < n_specs && specs[n_grads].kind != VG_TENSOR_PARAM)
            n_grads++;
          g_assert_cmpint (n_grads, <, n_specs);
          g_assert_cmpstr (name + strlen (prefix), ==, specs[n_grads].name);
          n_grads++;
        }
    }
  for (int i = 0; i < n_specs; i++)
    {
      const VgParamSpec *s = &specs[i];
      int64_t shape[4];
      g_autofree char *name = NULL;

      for (int d = 0; d < s->ndim; d++)
        shape[d] = s->shape[d];
      if (s->kind == VG_TENSOR_PARAM && full_grads)
        {
          name = g_strconcat ("grad.", s->name, NULL);
          expect_tensor (st, name, VG_DTYPE_F32, s->ndim, shape);
        }
      else if (s->kind == VG_TENSOR_PARAM)
        {
          const int64_t summary[1] = { 19 };
          name = g_strconcat ("gsum.", s->name, NULL);
          expect_tensor (st, name, VG_DTYPE_F32, 1, summary);
        }
      else if (s->kind == VG_TENSOR_BUFFER)
        {
          name = g_strconcat ("after.", s->name, NULL);
          expect_tensor (st, name, VG_DTYPE_F32, s->ndim, shape);
          n_after++;
        }
      else
        {
          int64_t count;
          name = g_strconcat ("after.", s->name, NULL);
          t = expect_tensor (st, name, VG_DTYPE_I64, 0, NULL);
          memcpy (&count, t->data, 8);
          g_assert_cmpint (count, ==, 1);  /* one training step */
          n_after++;
        }
    }
  g_assert_cmpint (n_after, ==, 15);  /* 5 BatchNorms x (mean, var, counter) */

  /* ref-init.h gives the reference's initial value of every tensor, bit for bit. */
  check_init_samples (st, specs, n_specs);
}

VG_TEST ("/safetensors/fixture-small", test_fixture_small)
{
  check_fixture ("small.safetensors", "custom", TRUE);
}

VG_TEST ("/safetensors/fixture-seed", test_fixture_seed)
{
  check_fixture ("seed.safetensors", "seed", FALSE);
}

/* ---- F16 storage ---------------------------------------------------------------------- */

VG_TEST ("/safetensors/half-conversion", test_half_conversion)
{
  GRand *rand = g_rand_new_with_seed (7);

  /* Every half that is a number comes back from float unchanged. */
  for (uint32_t h = 0; h < 0x10000; h++)
    {
      float f = vg_half_to_float ((uint16_t) h);

      if (isnan (f))
        g_assert_true (isnan (vg_half_to_float (vg_float_to_half (f))));
      else if (vg_float_to_half (f) != h)
        g_error ("half 0x%04x -> %a -> 0x%04x", h, (double) f, vg_float_to_half (f));
    }
  /* Random floats over the half range round as the compiler's _Float16 does (to nearest,
   * ties to even, subnormals, overflow to infinity). */
  for (int i = 0; i < 2000000; i++)
    {
      float f = (float) (g_rand_double_range (rand, -1.0, 1.0)
                         * pow (2.0, g_rand_int_range (rand, -30, 18)));
      _Float16 ref = (_Float16) f;
      uint16_t ref_bits;

      memcpy (&ref_bits, &ref, sizeof ref_bits);
      if (vg_float_to_half (f) != ref_bits)
        g_error ("%a -> 0x%04x, _Float16 gives 0x%04x", (double) f, vg_float_to_half (f),
                 ref_bits);
    }
  /* Exact ties: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10, and rounds to the even 1. */
  g_assert_cmphex (vg_float_to_half (1.0f + 0x1p-11f), ==, 0x3c00);
  g_assert_cmphex (vg_float_to_half (1.0f + 3 * 0x1p-11f), ==, 0x3c02);
  g_assert_cmphex (vg_float_to_half (65520.0f), ==, 0x7c00); /* rounds up to infinity */
  g_assert_cmphex (vg_float_to_half (-0.0f), ==, 0x8000);
  g_rand_free (rand);
}

VG_TEST ("/safetensors/convert-f16", test_convert_f16)
{
  g_autofree char *dir = g_dir_make_tmp ("visage-st-XXXXXX", NULL);
  g_autofree char *src = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *dst = g_build_filename (dir, "model-f16.safetensors", NULL);
  g_autofree char *missing = g_build_filename (dir, "none.safetensors", NULL);
  g_autofree float *matrix = g_new (float, 64 * 48);
  float bias[48];
  int64_t counts[1] = { 7 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VgSafetensors) st = NULL;
  g_autofree float *back = g_new (float, 64 * 48);
  const char *const meta[] = { "visage.config", "widths=8", "visage.storage", "old", NULL };
  int converted = -1;
  VgTensorView views[3] = {
    { .name = "w", .dtype = VG_DTYPE_F32, .ndim = 2, .shape = { 48, 64 }, .numel = 64 * 48,
      .data = matrix, .nbytes = 64 * 48 * sizeof (float) },
    { .name = "b", .dtype = VG_DTYPE_F32, .ndim = 1, .shape = { 48 }, .numel = 48,
      .data = bias, .nbytes = sizeof bias },
    { .name = "n", .dtype = VG_DTYPE_I64, .ndim = 1, .shape = { 1 }, .numel = 1,
      .data = counts, .nbytes = sizeof counts },
  };

  for (int i = 0; i < 64 * 48; i++)
    matrix[i] = (float) sin (i * 0.37) * 0.2f;
  for (int i = 0; i < 48; i++)
    bias[i] = 1e-6f * (float) i; /* would lose digits in F16: must stay F32 */
  g_assert_true (vg_safetensors_write (src, views, 3, meta, &error));
  g_assert_no_error (error);
  g_assert_true (vg_safetensors_convert_f16 (src, dst, &converted, &error));
  g_assert_no_error (error);
  g_assert_cmpint (converted, ==, 1);

  st = vg_safetensors_open (dst, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vg_safetensors_find (st, "w")->dtype, ==, VG_DTYPE_F16);
  g_assert_cmpint (vg_safetensors_find (st, "b")->dtype, ==, VG_DTYPE_F32);
  g_assert_cmpint (vg_safetensors_find (st, "n")->dtype, ==, VG_DTYPE_I64);
  g_assert_cmpmem (vg_safetensors_find (st, "b")->data, sizeof bias, bias, sizeof bias);
  g_assert_cmpstr (vg_safetensors_metadata (st, "visage.config"), ==, "widths=8");
  g_assert_cmpstr (vg_safetensors_metadata (st, "visage.storage"), ==, "f16-weights");
  g_assert_true (vg_safetensors_read_f32 (st, "w", back, NULL, 0, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 64 * 48; i++)
    g_assert_cmpfloat (back[i], ==, vg_half_to_float (vg_float_to_half (matrix[i])));

  /* A missing source is an error naming it; nothing is written. */
  g_assert_false (vg_safetensors_convert_f16 (missing, dst, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "none.safetensors"));
  g_unlink (src);
  g_unlink (dst);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("visage-safetensors-XXXXXX", &error);
  g_assert_no_error (error);

  vg_test_add_registered ();
  status = g_test_run ();

  clear_tmp_dir ();
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return status;
}
