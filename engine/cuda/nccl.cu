/* SPDX-License-Identifier: GPL-3.0-or-later */
/* NCCL for data-parallel training on the CUDA backend (vg-cuda.h): the gradient and the
 * synchronised BatchNorm's sums added over the ranks' GPUs, and rank 0's weights broadcast,
 * in device memory on the backend's stream, so the optimiser step queued after them needs
 * no host synchronisation. MPI only carries the communicator's id (vg-backend-cuda.c). */
#include <cstdio>
#include <cstring>

#include <nccl.h>

#include "common.cuh"

using namespace vgc;

static_assert (sizeof (ncclUniqueId) <= VG_CUDA_NCCL_ID_BYTES, "NCCL id larger than its room");

static ncclComm_t comm;

static void
check_nccl (ncclResult_t rc, const char *what)
{
  if (rc != ncclSuccess)
    record_error (what, ncclGetErrorString (rc));
}

extern "C" int
vg_cuda_nccl_make_id (void *id, char *err, size_t err_len)
{
  ncclUniqueId uid;
  ncclResult_t rc = ncclGetUniqueId (&uid);

  if (rc != ncclSuccess)
    {
      snprintf (err, err_len, "ncclGetUniqueId: %s", ncclGetErrorString (rc));
      return -1;
    }
  memset (id, 0, VG_CUDA_NCCL_ID_BYTES);
  memcpy (id, &uid, sizeof uid);
  return 0;
}

extern "C" int
vg_cuda_nccl_init (const void *id, int rank, int n_ranks, char *err, size_t err_len)
{
  ncclUniqueId uid;
  ncclResult_t rc;

  if (comm != nullptr)
    return 0;
  memcpy (&uid, id, sizeof uid);
  rc = ncclCommInitRank (&comm, n_ranks, uid, rank);
  if (rc != ncclSuccess)
    {
      snprintf (err, err_len, "ncclCommInitRank (rank %d of %d): %s", rank, n_ranks,
                ncclGetErrorString (rc));
      comm = nullptr;
      return -1;
    }
  return 0;
}

/* NCCL counts are size_t: no pieces needed. */
extern "C" void
vg_cuda_nccl_sum (void *values, size_t n, int doubles)
{
  check_nccl (ncclAllReduce (values, values, n, doubles ? ncclDouble : ncclFloat, ncclSum,
                             comm, g.stream),
              "ncclAllReduce");
}

extern "C" void
vg_cuda_nccl_broadcast (void *data, size_t bytes)
{
  check_nccl (ncclBroadcast (data, data, bytes, ncclUint8, 0, comm, g.stream),
              "ncclBroadcast");
}
