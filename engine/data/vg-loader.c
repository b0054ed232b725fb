/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The batch loader: a ring of preallocated batches filled by worker threads.
 *
 * One mutex guards the shared state. Work is handed out one sample at a time in epoch
 * order ("item" k is row k % B of batch k / B); batch b lives in slot b % R, and a worker
 * takes an item only when its slot has been assigned to that batch, i.e. when the caller
 * released batch b - R. A worker writes only its own row of the slot, outside the lock;
 * the last row done marks the batch READY.
 *
 * Slot states:  FILLING --(all rows done)--> READY --(next)--> IN_USE --(release)-->
 *               FILLING for batch b + R, or IDLE past the end of the epoch. */
#define G_LOG_DOMAIN "visage-data"

#include "config.h"

#include <string.h>

#include "vg-loader.h"

typedef enum {
  SLOT_IDLE,
  SLOT_FILLING,
  SLOT_READY,
  SLOT_IN_USE,
} SlotState;

typedef struct {
  VgBatch batch;      /* first member: a VgBatch pointer is a Slot pointer */
  SlotState state;
  int pending;        /* rows still to be produced */
} Slot;

typedef struct {
  VgLoader *loader;
  GThread *thread;
  VgImage image;              /* decoding buffers, reused */
  VgImage mask;
  VgAugmentScratch *scratch;
} Worker;

struct _VgLoader {
  const VgSplit *split;
  VgLoaderParams params;
  int B;              /* this process's rows of a batch */
  int S;              /* shards: a global batch is S * B rows */
  int H;
  int W;
  int n_batches;      /* per epoch */
  int n_items;        /* samples per epoch: n_batches * B under drop_last, else all */
  int n_copies;       /* samples with their repeats: the items an epoch draws from */
  int *copies;        /* (n_copies) copy j is sample copies[j] % N, its copy copies[j] / N */
  int *order;         /* (n_copies) this epoch's order of copies */
  Slot *slots;        /* (R) */
  int R;
  Worker *workers;    /* (n_workers) */
  int n_workers;

  GMutex lock;
  GCond work_cond;    /* workers: an item became available, or quit */
  GCond ready_cond;   /* caller: a batch became ready, an error, or cancel */
  GCond idle_cond;    /* start_epoch: no worker busy any more */
  int epoch;
  gboolean active;    /* an epoch was started */
  gboolean cancelled;
  gboolean quit;
  int next_item;      /* next item to hand to a worker */
  int next_batch;     /* next batch to hand to the caller */
  int busy;           /* workers producing an item right now */
  GError *error;      /* the first worker failure of this epoch */
  gint64 wait_us;     /* caller's total blocked time in vg_loader_next() */
};

void
vg_loader_params_init (VgLoaderParams *p, gboolean train)
{
  memset (p, 0, sizeof *p);
  p->batch_size = 8;
  p->n_workers = 2;
  p->n_buffers = 0;
  p->shuffle = train;
  p->drop_last = train;
  p->seed = 0;
  vg_augment_params_init (&p->aug, train);
}

/* The epoch-order position of item k (row k % B of this process's batch k / B): with
 * shards, batch b's rows are rows [shard B, (shard + 1) B) of global batch b. */
static int
item_position (const VgLoader *l, int k)
{
  return (k / l->B) * l->B * l->S + l->params.shard * l->B + k % l->B;
}

static int
batch_rows (const VgLoader *l, int b)
{
  return MIN (l->B, l->n_items - b * l->B);
}

static void
slot_assign (VgLoader *l, Slot *s, int b)
{
  if (b < l->n_batches)
    {
      s->batch.number = b;
      s->batch.epoch = l->epoch;
      s->batch.n = batch_rows (l, b);
      s->batch.wait_s = 0.0;
      s->pending = s->batch.n;
      s->state = SLOT_FILLING;
    }
  else
    s->state = SLOT_IDLE;
}

/* Decode and augment the sample of item k into its row; runs outside the lock. */
static gboolean
produce (Worker *w, Slot *s, int k, int epoch, GError **error)
{
  VgLoader *l = w->loader;
  const VgSplit *split = l->split;
  int row = k % l->B;
  int copy = l->order[item_position (l, k)]; /* sample index + copy number * N */
  int index = copy % split->n_samples;
  size_t pixels = (size_t) l->H * l->W;
  gboolean masks = s->batch.masks != NULL;

  if (!vg_split_load_sample (split, index, &w->image, masks ? &w->mask : NULL, error))
    return FALSE;
  if (l->params.aug.out_height <= 0
      && (w->image.height != l->H || w->image.width != l->W))
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                   "%s: image is %d x %d but the batch is %d x %d (set a resolution)",
                   split->samples[index].image_path, w->image.width, w->image.height, l->W,
                   l->H);
      return FALSE;
    }
  vg_augment_sample (s->batch.images + row * pixels * 3,
                     masks ? s->batch.masks + row * pixels : NULL, w->image.data,
                     masks ? w->mask.data : NULL, &l->params.aug,
                     vg_sample_seed (l->params.seed, epoch, copy), w->scratch,
                     w->image.height, w->image.width);
  s->batch.indices[row] = index;
  return TRUE;
}

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  VgLoader *l = w->loader;

  g_mutex_lock (&l->lock);
  while (!l->quit)
    {
      Slot *s = NULL;
      GError *error = NULL;
      int k, epoch;
      gboolean ok;

      if (l->active && !l->cancelled && l->error == NULL && l->next_item < l->n_items)
        {
          int b = l->next_item / l->B;
          s = &l->slots[b % l->R];
          if (s->state != SLOT_FILLING || s->batch.number != b)
            s = NULL;
        }
      if (s == NULL)
        {
          g_cond_wait (&l->work_cond, &l->lock);
          continue;
        }
      k = l->next_item++;
      epoch = l->epoch;
      l->busy++;
      g_mutex_unlock (&l->lock);

      ok = produce (w, s, k, epoch, &error);

      g_mutex_lock (&l->lock);
      l->busy--;
      if (!ok)
        {
          if (l->error == NULL)
            l->error = error;
          else
            g_error_free (error);
          g_cond_broadcast (&l->ready_cond);
        }
      else if (--s->pending == 0)
        {
          s->state = SLOT_READY;
          g_cond_broadcast (&l->ready_cond);
        }
      if (l->busy == 0)
        g_cond_broadcast (&l->idle_cond);
    }
  g_mutex_unlock (&l->lock);
  return NULL;
}

VgLoader *
vg_loader_new (const VgSplit *split, const VgLoaderParams *params, GError **error)
{
  VgLoader *l;
  int N = split->n_samples, H, W, n_copies;
  const VgAugmentParams *aug = &params->aug;

  if (params->batch_size <= 0 || params->n_workers <= 0 || N <= 0
      || (aug->out_height > 0) != (aug->out_width > 0))
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                   "invalid loader parameters (batch %d, %d workers, %d samples, out %d x %d)",
                   params->batch_size, params->n_workers, N, aug->out_width,
                   aug->out_height);
      return NULL;
    }
  n_copies = N;
  if (params->repeats != NULL)
    {
      gint64 total = 0, most = 0;

      for (int i = 0; i < N; i++)
        {
          if (params->repeats[i] < 0 || params->repeats[i] > 1000)
            {
              g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                           "sample %d is repeated %d times (0 to 1000)", i,
                           params->repeats[i]);
              return NULL;
            }
          total += params->repeats[i];
          most = MAX (most, params->repeats[i]);
        }
      if (total > G_MAXINT / 2 || most * N > G_MAXINT)
        {
          g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                       "%" G_GINT64_FORMAT " samples an epoch are too many", total);
          return NULL;
        }
      n_copies = (int) total;
    }
  if (params->n_shards > 1
      && (!params->drop_last || params->shard < 0 || params->shard >= params->n_shards))
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                   "invalid shard %d of %d (shards need drop_last)", params->shard,
                   params->n_shards);
      return NULL;
    }
  if ((params->drop_last && n_copies < params->batch_size * MAX (params->n_shards, 1))
      || n_copies == 0)
    {
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_EMPTY,
                   "%s: %d samples are fewer than one batch of %d", split->images_dir,
                   n_copies, params->batch_size * MAX (params->n_shards, 1));
      return NULL;
    }
  H = aug->out_height > 0 ? aug->out_height : split->samples[0].height;
  W = aug->out_width > 0 ? aug->out_width : split->samples[0].width;
  if (aug->out_height <= 0)
    for (int i = 1; i < N; i++)
      if (split->samples[i].height != H || split->samples[i].width != W)
        {
          g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_SIZE,
                       "%s: image is %d x %d but %s is %d x %d; batches need one size "
                       "(set a resolution)", split->samples[i].image_path,
                       split->samples[i].width, split->samples[i].height,
                       split->samples[0].image_path, W, H);
          return NULL;
        }

  l = g_new0 (VgLoader, 1);
  l->split = split;
  l->params = *params;
  l->B = params->batch_size;
  l->H = H;
  l->W = W;
  l->params.repeats = NULL;
  l->n_copies = n_copies;
  l->copies = g_new (int, n_copies);
  for (int i = 0, j = 0; i < N; i++)
    for (int c = 0; c < (params->repeats != NULL ? params->repeats[i] : 1); c++)
      l->copies[j++] = i + c * N;
  l->S = MAX (params->n_shards, 1);
  l->n_batches = params->drop_last ? n_copies / (l->B * l->S) : (n_copies + l->B - 1) / l->B;
  l->n_items = params->drop_last ? l->n_batches * l->B : n_copies;
  l->order = g_new (int, n_copies);
  l->R = params->n_buffers > 0 ? params->n_buffers : params->n_workers + 2;
  l->slots = g_new0 (Slot, l->R);
  for (int r = 0; r < l->R; r++)
    {
      VgBatch *b = &l->slots[r].batch;
      b->images = g_new (float, (size_t) l->B * H * W * 3);
      b->masks = vg_split_has_masks (split) ? g_new (uint8_t, (size_t) l->B * H * W) : NULL;
      b->indices = g_new0 (int, l->B);
      b->height = H;
      b->width = W;
      l->slots[r].state = SLOT_IDLE;
    }
  g_mutex_init (&l->lock);
  g_cond_init (&l->work_cond);
  g_cond_init (&l->ready_cond);
  g_cond_init (&l->idle_cond);
  l->n_workers = params->n_workers;
  l->workers = g_new0 (Worker, l->n_workers);
  for (int i = 0; i < params->n_workers; i++)
    {
      Worker *w = &l->workers[i];
      GError *local = NULL;

      w->loader = l;
      w->scratch = vg_augment_scratch_new ();
      w->thread = g_thread_try_new ("vg-loader", worker_main, w, &local);
      if (w->thread == NULL)
        {
          /* Fewer workers only make the loading slower; none is an error. */
          vg_augment_scratch_free (w->scratch);
          l->n_workers = i;
          if (i == 0)
            {
              g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                           "cannot start a loader thread: %s", local->message);
              g_error_free (local);
              vg_loader_free (l);
              return NULL;
            }
          g_warning ("the loader runs with %d of %d threads: %s", i, params->n_workers,
                     local->message);
          g_error_free (local);
          break;
        }
    }
  return l;
}

void
vg_loader_free (VgLoader *l)
{
  if (l == NULL)
    return;
  g_mutex_lock (&l->lock);
  l->quit = TRUE;
  g_cond_broadcast (&l->work_cond);
  g_mutex_unlock (&l->lock);
  for (int i = 0; i < l->n_workers; i++)
    {
      Worker *w = &l->workers[i];
      g_thread_join (w->thread);
      vg_image_clear (&w->image);
      vg_image_clear (&w->mask);
      vg_augment_scratch_free (w->scratch);
    }
  for (int r = 0; r < l->R; r++)
    {
      g_free (l->slots[r].batch.images);
      g_free (l->slots[r].batch.masks);
      g_free (l->slots[r].batch.indices);
    }
  g_clear_error (&l->error);
  g_mutex_clear (&l->lock);
  g_cond_clear (&l->work_cond);
  g_cond_clear (&l->ready_cond);
  g_cond_clear (&l->idle_cond);
  g_free (l->workers);
  g_free (l->slots);
  g_free (l->order);
  g_free (l->copies);
  g_free (l);
}

int
vg_loader_n_batches (const VgLoader *l)
{
  return l->n_batches;
}

void
vg_loader_batch_shape (const VgLoader *l, int *height, int *width)
{
  *height = l->H;
  *width = l->W;
}

void
vg_loader_start_epoch (VgLoader *l, int epoch)
{
  vg_loader_start_epoch_at (l, epoch, 0);
}

void
vg_loader_start_epoch_at (VgLoader *l, int epoch, int first_batch)
{
  int N = l->n_copies;

  g_return_if_fail (first_batch >= 0 && first_batch <= l->n_batches);

  g_mutex_lock (&l->lock);
  /* Stop handing out items, and let the workers finish writing into the slots. */
  l->active = FALSE;
  while (l->busy > 0)
    g_cond_wait (&l->idle_cond, &l->lock);
  g_clear_error (&l->error);
  l->cancelled = FALSE;
  l->epoch = epoch;
  if (l->params.shuffle)
    vg_epoch_order (l->order, l->params.seed, epoch, N);
  else
    for (int i = 0; i < N; i++)
      l->order[i] = i;
  for (int i = 0; i < N; i++)
    l->order[i] = l->copies[l->order[i]];
  l->next_item = first_batch * l->B;
  l->next_batch = first_batch;
  for (int r = 0; r < l->R; r++)
    slot_assign (l, &l->slots[(first_batch + r) % l->R], first_batch + r);
  l->active = TRUE;
  g_cond_broadcast (&l->work_cond);
  g_mutex_unlock (&l->lock);
}

const VgBatch *
vg_loader_next (VgLoader *l, GError **error)
{
  Slot *s;
  gint64 start, waited;
  gboolean ready;

  g_mutex_lock (&l->lock);
  if (!l->active)
    {
      g_mutex_unlock (&l->lock);
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                   "no epoch started (call vg_loader_start_epoch)");
      return NULL;
    }
  if (l->next_batch >= l->n_batches && !l->cancelled)
    {
      g_mutex_unlock (&l->lock);
      return NULL;
    }
  s = &l->slots[l->next_batch % l->R];
  if (s->state == SLOT_IN_USE)
    {
      g_mutex_unlock (&l->lock);
      g_set_error (error, VG_DATA_ERROR, VG_DATA_ERROR_INVALID,
                   "all %d batches of the ring are held: release one before the next", l->R);
      return NULL;
    }
  start = g_get_monotonic_time ();
  for (;;)
    {
      ready = s->state == SLOT_READY && s->batch.number == l->next_batch;
      if (ready || l->error != NULL || l->cancelled)
        break;
      g_cond_wait (&l->ready_cond, &l->lock);
    }
  waited = g_get_monotonic_time () - start;
  l->wait_us += waited;
  if (l->cancelled)
    {
      g_mutex_unlock (&l->lock);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "loading was cancelled");
      return NULL;
    }
  if (!ready)
    {
      /* Kept, so every later call of this epoch reports the same failure. */
      if (error != NULL)
        *error = g_error_copy (l->error);
      g_mutex_unlock (&l->lock);
      return NULL;
    }
  s->state = SLOT_IN_USE;
  s->batch.wait_s = waited * 1e-6;
  l->next_batch++;
  g_mutex_unlock (&l->lock);
  return &s->batch;
}

void
vg_loader_release (VgLoader *l, const VgBatch *batch)
{
  Slot *s = (Slot *) batch;

  g_return_if_fail (s >= l->slots && s < l->slots + l->R);
  g_mutex_lock (&l->lock);
  /* A batch from before vg_loader_start_epoch() was reclaimed already. */
  if (s->state == SLOT_IN_USE)
    {
      slot_assign (l, s, s->batch.number + l->R);
      g_cond_broadcast (&l->work_cond);
    }
  g_mutex_unlock (&l->lock);
}

void
vg_loader_cancel (VgLoader *l)
{
  g_mutex_lock (&l->lock);
  l->cancelled = TRUE;
  g_cond_broadcast (&l->ready_cond);
  g_cond_broadcast (&l->work_cond);
  g_mutex_unlock (&l->lock);
}

double
vg_loader_wait_seconds (VgLoader *l)
{
  double s;

  g_mutex_lock (&l->lock);
  s = l->wait_us * 1e-6;
  g_mutex_unlock (&l->lock);
  return s;
}
