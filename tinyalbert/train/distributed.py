"""Data-parallel training over MPI: N processes, one model copy each, gradients averaged.

    mpiexec -n 2 python -m tinyalbert.pretrain --corpus corpus.txt --out runs/dp ...

Every rank builds the same global batch from the same seed and keeps its own block of rows,
computes loss and gradients on them with the hand-written backward, and the gradients are summed
across ranks in one all-reduce of a single flat buffer. Every rank then takes the same optimizer
step on the same summed gradient, so the parameters stay identical without ever being sent.

Why one process with the whole batch and N processes with 1/N each give the same step: the
MLM loss is a mean over the masked positions of the whole batch and the SOP loss a mean over its
rows. A rank's share of the global mean is its own mean weighted by its share of the count,

    L = sum_r (n_r / n) * L_r,      so      dL/dθ = sum_r (n_r / n) * dL_r/dθ,

which is what `data_parallel_loss_and_grads` computes: each rank scales its MLM and SOP terms by
their shares (counted locally: every rank builds the whole batch), then the all-reduce sums.
Only the order of the floating-point additions differs from one process, so the results agree
to rounding.

ALBERT is where this pays: its shared layers make the gradient as small as its parameter count
(12M for base against BERT-base's 110M), so the all-reduce moves ~9x fewer bytes per step.

Running without `mpiexec` changes nothing and never imports mpi4py. With CuPy arrays the sum
runs on the GPU through NCCL (CuPy's bindings), so gradients never visit the host. A rank that
dies or stops answering makes the others give up after `timeout_seconds` with a clear message
instead of hanging in the collective (the MPI ones: the NCCL all-reduce has no deadline yet).
Waiting for work whose length nobody can bound (preparing a large corpus) has no deadline: the
ranks tell each other whether it failed instead (`wait_for_all`).
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import traceback
import warnings
from typing import Mapping, NamedTuple

from ..backend import array_namespace, asarray
from ..nn.losses import IGNORE_INDEX

# Set by the launchers (MPICH/Intel MPI's Hydra, Open MPI, MVAPICH) in every process they start.
WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
DEFAULT_TIMEOUT_SECONDS = 600.0


class CollectiveTimeout(RuntimeError):
    """A collective did not complete in time: another rank died or is stuck."""


class FailedElsewhere(RuntimeError):
    """Another rank failed and says why itself: this one stops without repeating it."""


class Ranks(NamedTuple):
    comm: object  # the mpi4py communicator of the job (COMM_WORLD)
    rank: int
    size: int
    nccl: object  # a cupy.cuda.nccl.NcclCommunicator when the arrays live on GPUs, else None
    timeout_seconds: float

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, shows progress and writes OUT (pretraining also evaluates on rank 0
        alone; in fine-tuning every rank evaluates the whole validation set)."""
        return self.rank == 0


def launched_under_mpi(environ: Mapping[str, str] = os.environ) -> bool:
    """True when an MPI launcher started this process as one of several."""
    return any(int(environ.get(name, "1") or "1") > 1 for name in WORLD_SIZE_VARIABLES)


def launched_as_follower(environ: Mapping[str, str] = os.environ) -> bool:
    """True in every process of an MPI job but the first (rank 0), known before MPI starts."""
    return launched_under_mpi(environ) and any(int(environ.get(name, "0") or "0") > 0 for name in RANK_VARIABLES)


def init_ranks(backend="numpy", timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Ranks | None:
    """The job's ranks when launched by `mpiexec -n N` with N > 1, else None (and MPI untouched).

    With `backend` "cupy" (or the cupy module), each rank takes GPU `rank % device_count` and an NCCL
    communicator is built from an id that rank 0 broadcasts over MPI.
    """
    if not launched_under_mpi():
        return None
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise RuntimeError("running under mpiexec needs mpi4py: pip install 'tinyalbert[mpi]'") from error
    comm = MPI.COMM_WORLD
    nccl = None
    if getattr(backend, "__name__", backend) == "cupy":
        import cupy

        nccl = _nccl_communicator(comm, cupy)
    return Ranks(comm, comm.Get_rank(), comm.Get_size(), nccl, float(timeout_seconds))


def _nccl_communicator(comm, cupy):
    from cupy.cuda import nccl

    cupy.cuda.Device(comm.Get_rank() % cupy.cuda.runtime.getDeviceCount()).use()
    unique_id = comm.bcast(nccl.get_unique_id() if comm.Get_rank() == 0 else None, root=0)
    return nccl.NcclCommunicator(comm.Get_size(), unique_id, comm.Get_rank())


# --- the batch --------------------------------------------------------------------------------------
def shard_rows(batch: Mapping, rank: int, size: int) -> dict:
    """Rank `rank`'s block of rows of every array in `batch`: rows [rank*b/size, (rank+1)*b/size).

    The global batch must split evenly, so that every rank runs the same shapes.
    """
    rows = {len(value) for value in batch.values()}
    if len(rows) != 1:
        raise ValueError(f"batch arrays have different numbers of rows: {sorted(rows)}")
    (total,) = rows
    if total % size:
        raise ValueError(f"the batch of {total} rows does not split evenly over {size} processes; "
                         f"choose a batch size that is a multiple of {size}")
    per_rank = total // size
    return {name: value[rank * per_rank:(rank + 1) * per_rank] for name, value in batch.items()}


# --- flat buffers and the collectives ---------------------------------------------------------------
def flatten(grads: Mapping):
    """Every gradient, in the dict's order, as one 1-D array: one collective instead of one per tensor."""
    xp = array_namespace(*grads.values())
    return xp.concat([xp.reshape(grad, (-1,)) for grad in grads.values()])


def unflatten(flat, like: Mapping) -> dict:
    """Cut `flat` back into arrays shaped like the values of `like`, with its keys and order."""
    xp = array_namespace(flat)
    out, start = {}, 0
    for name, value in like.items():
        size = math.prod(value.shape)
        out[name] = xp.reshape(flat[start:start + size], value.shape)
        start += size
    return out


def wait(request, ranks: Ranks, what: str, deadline: bool = True) -> None:
    """Wait for a non-blocking MPI request, polling, until `ranks.timeout_seconds` pass (for ever
    with `deadline=False`: see `wait_for_all`)."""
    give_up = time.monotonic() + ranks.timeout_seconds if deadline else math.inf
    pause = 1e-5
    while not request.Test():
        if time.monotonic() > give_up:
            raise CollectiveTimeout(
                f"rank {ranks.rank}: {what} did not complete within {ranks.timeout_seconds:g} s (--mpi-timeout); "
                "another process has failed (see its error above) or stopped answering; if it is only slow, "
                "raise --mpi-timeout"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.01)  # poll fast for short collectives, cheaply for long ones


def allreduce_sum(flat, ranks: Ranks, what: str = "the gradient all-reduce"):
    """The element-wise sum of `flat` (1-D) over all ranks, in place; returns `flat`."""
    if ranks.nccl is not None:
        return _nccl_allreduce_sum(flat, ranks)
    return allreduce_sum_host(flat, ranks, what)


def _nccl_allreduce_sum(flat, ranks: Ranks):
    import cupy
    from cupy.cuda import nccl

    dtypes = {cupy.dtype(cupy.float32): nccl.NCCL_FLOAT32, cupy.dtype(cupy.float64): nccl.NCCL_FLOAT64,
              cupy.dtype(cupy.float16): nccl.NCCL_FLOAT16}
    stream = cupy.cuda.get_current_stream()
    ranks.nccl.allReduce(flat.data.ptr, flat.data.ptr, flat.size, dtypes[flat.dtype], nccl.NCCL_SUM, stream.ptr)
    stream.synchronize()
    return flat


def allreduce_numbers(values, ranks: Ranks, what: str, deadline: bool = True) -> list[float]:
    """Sum a few Python numbers over all ranks (on the host: they are counts and metrics)."""
    import numpy as np

    buffer = np.asarray(values, dtype=np.float64)
    allreduce_sum_host(buffer, ranks, what, deadline)
    return [float(value) for value in buffer]


def allreduce_sum_host(buffer, ranks: Ranks, what: str, deadline: bool = True):
    """The element-wise sum of a host (NumPy) buffer over all ranks through MPI, in place."""
    from mpi4py import MPI

    wait(ranks.comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM), ranks, what, deadline)
    return buffer


def barrier(ranks: Ranks, what: str) -> None:
    wait(ranks.comm.Ibarrier(), ranks, what)


def wait_for_all(ranks: Ranks, what: str, failure: Exception | None = None) -> None:
    """Wait, with no deadline, until every rank is done `what` (work whose length nobody can
    bound, "preparing the run" from a large corpus), each telling whether it failed on the way.
    Raises this rank's `failure`, else FailedElsewhere when another rank failed: no rank waits
    for one that will never come, and a slow one is not taken for a dead one."""
    (failures,) = allreduce_numbers([failure is not None], ranks, what, deadline=False)
    if failure is not None:
        raise failure
    if failures:
        raise FailedElsewhere(f"rank {ranks.rank}: another process failed {what} (see its error)")


@contextlib.contextmanager
def warnings_from_first_process(is_main: bool):
    """Every process of a job reads the same files and meets the same warnings: inside this, the
    first one alone shows them (for code called from Python; the commands set it where they start,
    `exit_status_of_job`)."""
    with warnings.catch_warnings():
        if not is_main:
            warnings.simplefilter("ignore")
        yield


def _running_in_parallel_job() -> bool:
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi is not None and mpi.Is_initialized() and mpi.COMM_WORLD.Get_size() > 1


# How long a process whose error another one reports waits for that one to end the job with its
# own exit status, before it ends the job itself.
FAILED_ELSEWHERE_GRACE_SECONDS = 10.0


def abort_job_if_parallel(code: int, pause: float = 0.5) -> None:
    """Under mpiexec, end every process of the job after `pause` seconds (MPI_Abort): after this
    process failed, the others would wait for it in their next collective. Does nothing in a
    plain run."""
    if _running_in_parallel_job():
        mpi = sys.modules["mpi4py.MPI"]
        sys.stdout.flush()
        sys.stderr.flush()
        # The launcher forwards our output through a pipe of its own, and MPI_Abort can kill the job
        # before it has passed the error message on: give it a moment, or the user sees no reason.
        time.sleep(pause)
        mpi.COMM_WORLD.Abort(code)
        os._exit(code)


def exit_status_of_job(run, argv, aborts) -> int:
    """`run(argv)`'s exit status, for a command's `main`. Under mpiexec a process that fails takes
    the job down (the others would wait for it in their next collective until the timeout): on an
    exception, after printing its traceback (a collective's timeout: its message alone), and on a
    status for which `aborts(status)` is true.

    Every process reads the same files and meets the same warnings: the first one alone shows them."""
    try:
        with warnings_from_first_process(not launched_as_follower()):
            code = run(argv)
    except SystemExit as request:  # argparse's way out after --help: no traceback for that
        if request.code:
            abort_job_if_parallel(1)
        raise
    except CollectiveTimeout as error:  # the message says it all; the traceback would bury it
        print(f"error: {error}", file=sys.stderr, flush=True)
        abort_job_if_parallel(1)
        raise
    except FailedElsewhere:  # the process that failed says why and ends the job, with its exit status
        abort_job_if_parallel(1, pause=FAILED_ELSEWHERE_GRACE_SECONDS)
        raise
    except BaseException:
        if _running_in_parallel_job():  # MPI_Abort would end the process before Python printed it
            traceback.print_exc()
            abort_job_if_parallel(1)
        raise
    if aborts(code):
        abort_job_if_parallel(code)
    return code


def abort(ranks: Ranks, message: str, code: int = 1) -> None:
    """Print `message` and take the whole job down: MPI_Abort ends every rank, so none waits forever."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    time.sleep(0.5)  # let the launcher pass the message on before the job is killed
    ranks.comm.Abort(code)
    os._exit(code)  # MPI_Abort may return before the launcher kills this process: go no further


# --- one data-parallel step ------------------------------------------------------------------------
def loss_shares(local_batch: Mapping, global_batch: Mapping) -> tuple[float, float]:
    """This rank's share of the batch's MLM targets and of its SOP rows: (n_mlm_r / n_mlm, n_sop_r / n_sop).
    Every rank holds the whole batch, so the totals are counted here, without a collective."""
    import numpy as np

    def targets(batch) -> int:
        return int(np.count_nonzero(np.asarray(batch["labels"]) != IGNORE_INDEX))

    total_targets = targets(global_batch)
    if total_targets == 0:
        raise ValueError("the global batch has no MLM target (every label is -100)")
    return targets(local_batch) / total_targets, len(local_batch["labels"]) / len(global_batch["labels"])


def data_parallel_loss_and_grads(model, global_batch: Mapping, ranks: Ranks):
    """Loss and gradients of the whole `global_batch` (host arrays), computed by all ranks together.

    Each rank runs the hand-written backward on its rows, with its MLM and SOP terms weighted by
    its shares of them; one all-reduce sums the weighted gradients (and the loss). Returns the
    global loss (a Python float) and the summed gradients (device arrays keyed like
    `model.state_dict()`), identical on every rank.
    """
    local = shard_rows(global_batch, ranks.rank, ranks.size)
    mlm_share, sop_share = loss_shares(local, global_batch)
    local = {name: asarray(model.xp, value) for name, value in local.items()}  # only this rank's rows travel
    inputs = {"attention_mask": local.get("attention_mask"), "token_type_ids": local.get("token_type_ids")}
    if "sentence_order_label" in local:  # AlbertForPreTraining; AlbertForMaskedLM has no SOP term
        inputs["sentence_order_label"] = local["sentence_order_label"]
    loss, grads = model.loss_and_grads(local["input_ids"], local["labels"], loss_scales=(mlm_share, sop_share),
                                       **inputs)
    return allreduce_loss_and_grads(loss, grads, ranks)


def allreduce_loss_and_grads(loss, grads: Mapping, ranks: Ranks):
    """The sums over all ranks of this rank's weighted `loss` (a number or 0-d array) and `grads`
    (every rank with the same keys in the same order), in one all-reduce of one flat buffer."""
    flat = flatten(grads)
    xp = array_namespace(flat)
    flat = xp.concat([flat, xp.reshape(xp.asarray(loss, dtype=flat.dtype), (1,))])  # the loss rides along
    flat = allreduce_sum(flat, ranks)
    return flat[-1], unflatten(flat[:-1], grads)
