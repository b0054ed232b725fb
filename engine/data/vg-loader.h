/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The loader: worker threads decode and augment the next batches while the caller
 * computes.
 *
 * Batches live in a ring of n_buffers preallocated slots; after vg_loader_new() nothing is
 * allocated per batch (decoding buffers grow to the largest image once). Workers take
 * samples in epoch order, several workers may fill one batch, and each sample's
 * augmentation depends only on (seed, epoch, sample index), so the bytes of every batch
 * are the same whatever the number of workers or their timing.
 *
 *   VgLoader *loader = vg_loader_new (split, &params, &error);
 *   for (int epoch = 0; epoch < n_epochs; epoch++)
 *     {
 *       vg_loader_start_epoch (loader, epoch);
 *       while ((batch = vg_loader_next (loader, &error)) != NULL)
 *         {
 *           train_step (batch->images, batch->masks, batch->n);
 *           vg_loader_release (loader, batch);
 *         }
 *       if (error != NULL) ... (a corrupt file found late, or cancelled)
 *     }
 *   vg_loader_free (loader);
 *
 * Shapes: B batch size, H, W the output size (the augmentation's out size, or the images'
 * own size when that is 0: then every image of the split must have that size). */
#pragma once

#include <stdint.h>

#include <glib.h>

#include "vg-augment.h"
#include "vg-split.h"

typedef struct {
  int batch_size;        /* B */
  int n_workers;         /* decoding threads (>= 1) */
  int n_buffers;         /* batches in the ring; <= 0: n_workers + 2 */
  gboolean shuffle;      /* a new order each epoch, from seed and epoch */
  gboolean drop_last;    /* leave out the last partial batch */
  uint64_t seed;         /* run seed: epoch order and augmentation */
  VgAugmentParams aug;   /* augment FALSE: evaluation (resize and whitening only) */
  const int *repeats;    /* (n_samples) copies of each sample per epoch, >= 0 (copied by
                          * vg_loader_new; NULL: one each). Each copy is augmented apart:
                          * copy c of sample i draws as sample i + c * n_samples would */
  int shard;             /* data-parallel training: this process takes rows [shard * B,  */
  int n_shards;          /* (shard + 1) * B) of every global batch of n_shards * B rows,   */
                         /* B = batch_size, in the same epoch order and with the same      */
                         /* augmentation as one process with batch n_shards * B (needs     */
                         /* drop_last); n_shards <= 1: the whole batch                     */
} VgLoaderParams;

/* Training (shuffle, drop_last, the report's augmentation) or evaluation (fixed order,
 * every sample, no augmentation, native size). B = 8, 2 workers, seed 0, no whitening:
 * set aug.mean/std from the training split's statistics. */
void vg_loader_params_init (VgLoaderParams *p, gboolean train);

typedef struct {
  float *images;   /* (B, H, W, 3) whitened; rows [0, n) valid */
  uint8_t *masks;  /* (B, H, W) class ids; NULL when the split has no masks */
  int *indices;    /* (B) index in the split of each row's sample */
  int n;           /* rows filled: B, or fewer in a last partial batch */
  int height;      /* H */
  int width;       /* W */
  int epoch;
  int number;      /* batch number within the epoch, from 0 */
  double wait_s;   /* how long vg_loader_next() blocked before this batch was ready */
} VgBatch;

typedef struct _VgLoader VgLoader;

/* Start the worker threads (idle until an epoch starts). The split must outlive the
 * loader. Fails if the parameters are invalid, if the split has fewer samples than a
 * batch under drop_last, or (native size) if the images differ in size. */
VgLoader *vg_loader_new (const VgSplit *split, const VgLoaderParams *params, GError **error);

/* Stops the workers (finishing the sample each is on) and frees everything. */
void vg_loader_free (VgLoader *loader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VgLoader, vg_loader_free)

int vg_loader_n_batches (const VgLoader *loader);
void vg_loader_batch_shape (const VgLoader *loader, int *height, int *width);

/* Begin (or restart) an epoch: abandons the previous one, even mid-way, waits for the
 * workers to put down their current samples, and sets them to work on this epoch's first
 * batches. Batches handed out earlier become invalid. */
void vg_loader_start_epoch (VgLoader *loader, int epoch);
/* The same, from batch first_batch on (0 <= first_batch <= the batch count): the batches
 * handed out are those vg_loader_start_epoch() gives from that number on, byte for byte
 * (to resume an epoch from a mid-epoch checkpoint). */
void vg_loader_start_epoch_at (VgLoader *loader, int epoch, int first_batch);

/* The next batch of the epoch, waiting for it if needed; NULL without error at the end
 * of the epoch. NULL with an error when a worker failed (the error names the file; the
 * epoch is then over), when the loader was cancelled (G_IO_ERROR_CANCELLED), or when the
 * caller already holds every slot of the ring (VG_DATA_ERROR_INVALID). */
const VgBatch *vg_loader_next (VgLoader *loader, GError **error);

/* Give a batch back so its slot can be refilled. */
void vg_loader_release (VgLoader *loader, const VgBatch *batch);

/* Stop the current epoch from any thread: workers stop taking samples, and a caller
 * blocked in (or later calling) vg_loader_next() gets G_IO_ERROR_CANCELLED. Does not
 * wait; vg_loader_start_epoch() or vg_loader_free() do. */
void vg_loader_cancel (VgLoader *loader);

/* Total seconds callers spent blocked in vg_loader_next() since the loader was made: the
 * loader's share of the step time. */
double vg_loader_wait_seconds (VgLoader *loader);
