/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The profiling backend of the benchmarks (vg-profile.c): each op goes to the inner backend
 * unchanged, is recorded only while recording is on, under its op and shape, with the FLOPs
 * of its output size (dilated and strided convolutions, whose output is smaller than the
 * input), and the report prints and clears the rows. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "vg-backend.h"
#include "vg-profile.h"
#include "test-register.h"

static float *
random_floats (GRand *rand, size_t n)
{
  float *x = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, -1, 1);
  return x;
}

/* A convolution's random input (n_in floats), weight (n_weight), bias (Cout) and a scratch
 * of n_scratch floats. */
typedef struct
{
  float *inp, *weight, *bias, *scratch;
} ConvData;

static ConvData
conv_data_new (GRand *rand, size_t n_in, size_t n_weight, int Cout, size_t n_scratch)
{
  ConvData d = { random_floats (rand, n_in), random_floats (rand, n_weight),
                 random_floats (rand, Cout), g_new (float, n_scratch + 1) };
  return d;
}

static void
conv_data_clear (ConvData *d)
{
  g_free (d->inp), g_free (d->weight), g_free (d->bias), g_free (d->scratch);
}

/* B 2, 11x9, 3 -> 4 channels, 3x3 taps Dl pixels apart, stride S, padding P */
static void
dilated_check (int S, int P, int Dl)
{
  const VgBackend *cpu = vg_backend_cpu (), *prof = vg_profile_backend (cpu, FALSE);
  const int B = 2, H = 11, W = 9, Cin = 3, Cout = 4, K = 3;
  int Ho = (H + 2 * P - Dl * (K - 1) - 1) / S + 1, Wo = (W + 2 * P - Dl * (K - 1) - 1) / S + 1;
  size_t n_out = (size_t) B * Ho * Wo * Cout;
  size_t n_scratch = cpu->conv2d_dilated_scratch_floats (B, H, W, Cin, Cout, K, S, P, Dl);
  GRand *rand = g_rand_new_with_seed (11);
  ConvData d = conv_data_new (rand, (size_t) B * H * W * Cin, (size_t) Cout * K * K * Cin, Cout,
                              n_scratch);
  float *a = g_new0 (float, n_out), *b = g_new0 (float, n_out);
  long calls;
  char *text = NULL;
  size_t text_len = 0;
  FILE *mem;

  g_assert_true (prof->conv2d_dilated_forward != NULL);
  /* not recorded while recording is off */
  prof->conv2d_dilated_forward (a, d.inp, d.weight, d.bias, d.scratch, B, H, W, Cin, Cout, K, S,
                                 P, Dl);
  g_assert_cmpfloat (vg_profile_recorded_flops ("conv2d_dilated_fwd", &calls), ==, 0);
  g_assert_cmpint (calls, ==, 0);

  vg_profile_set_recording (TRUE);
  prof->conv2d_dilated_forward (a, d.inp, d.weight, d.bias, d.scratch, B, H, W, Cin, Cout, K, S,
                                 P, Dl);
  prof->conv2d_dilated_forward (a, d.inp, d.weight, d.bias, d.scratch, B, H, W, Cin, Cout, K, S,
                                 P, Dl);
  vg_profile_set_recording (FALSE);
  cpu->conv2d_dilated_forward (b, d.inp, d.weight, d.bias, d.scratch, B, H, W, Cin, Cout, K, S,
                                P, Dl);
  g_assert_cmpmem (a, n_out * sizeof (float), b, n_out * sizeof (float));
  /* two calls of 2 B Ho Wo Cout Cin K K */
  g_assert_cmpfloat (vg_profile_recorded_flops ("conv2d_dilated_fwd", &calls), ==,
                     2 * 2.0 * B * Ho * Wo * Cout * Cin * K * K);
  g_assert_cmpint (calls, ==, 2);

  mem = open_memstream (&text, &text_len);
  vg_profile_report (mem, "test", 2, 1.0);
  fclose (mem);
  {
    g_autofree char *row = g_strdup_printf ("conv2d_dilated_fwd B%d %dx%d %d->%d k%d d%d", B, H,
                                            W, Cin, Cout, K, Dl);
    g_assert_nonnull (strstr (text, row));
  }
  free (text);
  /* the report clears the table */
  g_assert_cmpfloat (vg_profile_recorded_flops ("conv2d_dilated_fwd", &calls), ==, 0);
  g_rand_free (rand);
  conv_data_clear (&d);
  g_free (a), g_free (b);
}

VG_TEST ("/profile/dilated-conv", test_profile_dilated)
{
  dilated_check (1, 2, 2);
  dilated_check (2, 1, 3); /* strided: the output is about a quarter of the input */
  dilated_check (1, 0, 2); /* no padding: 7x5 out of 11x9 */
}

VG_TEST ("/profile/conv2d", test_profile_conv2d)
{
  const VgBackend *cpu = vg_backend_cpu (), *prof = vg_profile_backend (cpu, FALSE);
  /* 1 image, 10x8, 2 -> 6 channels, 3x3 stride 2 padding 1: 5x4 out */
  const int B = 1, H = 10, W = 8, Cin = 2, Cout = 6, K = 3, S = 2, P = 1, G = 1;
  size_t n_scratch = cpu->conv2d_scratch_floats (B, H, W, Cin, Cout, K, S, P, G);
  GRand *rand = g_rand_new_with_seed (5);
  ConvData d = conv_data_new (rand, (size_t) B * H * W * Cin, (size_t) Cout * K * K * Cin, Cout,
                              n_scratch);
  float *out = g_new0 (float, 5 * 4 * Cout);
  long calls;

  vg_profile_set_recording (TRUE);
  prof->conv2d_forward (out, d.inp, d.weight, NULL, d.scratch, B, H, W, Cin, Cout, K, S, P, G);
  vg_profile_set_recording (FALSE);
  g_assert_cmpfloat (vg_profile_recorded_flops ("conv2d_fwd", &calls), ==,
                     2.0 * B * 5 * 4 * Cout * Cin * K * K);
  g_assert_cmpint (calls, ==, 1);
  vg_profile_report (stderr, "test", 1, 1.0);
  g_rand_free (rand);
  conv_data_clear (&d);
  g_free (out);
}

/* The inference forward (Winograd where the CPU takes the shape) is forwarded unchanged and
 * recorded as conv2d_fwd with the direct convolution's FLOPs. */
VG_TEST ("/profile/conv2d-infer", test_profile_conv2d_infer)
{
  const VgBackend *cpu = vg_backend_cpu (), *prof = vg_profile_backend (cpu, FALSE);
  /* 2 images, 9x10, 16 -> 16 channels, 3x3 stride 1 padding 1 */
  const int B = 2, H = 9, W = 10, Cin = 16, Cout = 16, K = 3, S = 1, P = 1, G = 1;
  size_t n_out = (size_t) B * H * W * Cout;
  size_t n_scratch = cpu->conv2d_scratch_floats (B, H, W, Cin, Cout, K, S, P, G);
  GRand *rand = g_rand_new_with_seed (7);
  ConvData d = conv_data_new (rand, (size_t) B * H * W * Cin, (size_t) Cout * K * K * Cin, Cout,
                              n_scratch);
  float *a = g_new0 (float, n_out), *b = g_new0 (float, n_out);
  long calls;

  g_assert_nonnull (cpu->conv2d_forward_fast);
  g_assert_true (prof->conv2d_forward_fast != NULL);
  vg_profile_set_recording (TRUE);
  prof->conv2d_forward_fast (a, d.inp, d.weight, d.bias, d.scratch, B, H, W, Cin, Cout, K, S,
                              P, G, FALSE);
  vg_profile_set_recording (FALSE);
  cpu->conv2d_forward_fast (b, d.inp, d.weight, d.bias, d.scratch, B, H, W, Cin, Cout, K, S, P, G,
                            FALSE);
  g_assert_cmpmem (a, n_out * sizeof (float), b, n_out * sizeof (float));
  g_assert_cmpfloat (vg_profile_recorded_flops ("conv2d_fwd", &calls), ==,
                     2.0 * B * H * W * Cout * Cin * K * K);
  g_assert_cmpint (calls, ==, 1);
  vg_profile_report (stderr, "test", 1, 1.0);
  g_rand_free (rand);
  conv_data_clear (&d);
  g_free (a), g_free (b);
}

VG_TEST_MAIN ()
