"""Data-parallel training over MPI: N processes train one model, each on its part of every batch.

Glossary: N ranks (processes), r this rank, B a global batch's examples (or streams), P parameters.

Started by ``mpiexec -n N rnnkit train TASK ...``, every rank builds the same model and reads
the same data. Each global batch is split into N contiguous parts (:func:`part`); a rank runs
forward and backward on its part only. Its loss and gradients, the task's mean over its part,
times the count the mean divides by (tokens, masked steps, examples), are a loss *sum* and the
gradients of that sum. One allreduce per step adds, in one flat float64 buffer, every gradient
and the figures ``[loss sum, count, tokens, stop votes]`` (a rank interrupted or out of time
stops every rank after the same step); each rank then divides the gradients and the loss by
the global count. So every rank holds the gradient the one-process run would have computed from
the whole batch (to float rounding), and every rank takes the same step::

    grads_r, loss_r, count_r = backward(forward(part r of batch))       # the part's mean, on each rank
    buffer = [count_r * grads_r..., count_r * loss_r, count_r, ...]      # (P + 5,) float64
    allreduce(buffer, SUM)                                              # the one message of the step
    grads = buffer[:P] / count;  loss = buffer[P] / count                # the global mean, on every rank

Without ``mpiexec`` nothing here runs and mpi4py is never imported: :func:`launched_under_mpi`
reads only the environment variables that MPI launchers set.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

# Set by the launchers of MPICH / Intel MPI (PMI), Open MPI, MVAPICH and Slurm's srun (with PMI).
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")
# Figures appended to the gradients in each step's allreduce: what the trainer needs summed over ranks.
LOSS_SUM, COUNT, TOKENS, INTERRUPT_VOTES, BUDGET_VOTES = range(5)
FIGURES = 5


class DistributedError(ValueError):
    """A multi-process run cannot go on (mpi4py missing, ranks that disagree, a batch too small)."""


def launched_under_mpi(environ: dict[str, str] | None = None) -> int:
    """The number of processes an MPI launcher started this one among (1: not launched, or alone).

    >>> launched_under_mpi({})
    1
    >>> launched_under_mpi({"PMI_SIZE": "4", "PMI_RANK": "1"})
    4
    """
    environ = os.environ if environ is None else environ
    for name in SIZE_VARIABLES:
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def part(count: int, rank: int, size: int) -> slice:
    """The contiguous share of ``count`` items that rank ``rank`` of ``size`` takes.

    The first ``count % size`` ranks take one item more; a rank past ``count`` gets an empty slice.

    >>> [part(5, rank, 2) for rank in range(2)]
    [slice(0, 3, None), slice(3, 5, None)]
    >>> part(1, 1, 2)
    slice(1, 1, None)
    """
    base, extra = divmod(count, size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


class Group:
    """The processes that train together; this one is ``rank`` of ``size``.

    The base class is one process alone: every collective returns its input. :class:`MPIGroup`
    is the same interface over an MPI communicator.
    """

    rank = 0
    size = 1

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def allreduce(self, buffer: np.ndarray) -> np.ndarray:
        """The element-wise sum of ``buffer`` over all ranks (in place; returned)."""
        return buffer

    def broadcast_array(self, buffer: np.ndarray) -> np.ndarray:
        """Rank 0's ``buffer`` on every rank (in place; returned)."""
        return buffer

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object) on every rank."""
        return value

    def allgather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order."""
        return [value]

    def abort(self, code: int = 1) -> None:
        """Stop every rank at once (after this rank has failed)."""
        raise SystemExit(code)


class MPIGroup(Group):
    """:class:`Group` over an mpi4py communicator (``MPI.COMM_WORLD`` by default)."""

    def __init__(self, comm: Any = None):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def allreduce(self, buffer: np.ndarray) -> np.ndarray:
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)
        return buffer

    def broadcast_array(self, buffer: np.ndarray) -> np.ndarray:
        self.comm.Bcast(buffer, root=0)
        return buffer

    def broadcast(self, value: Any) -> Any:
        return self.comm.bcast(value, root=0)

    def allgather(self, value: Any) -> list[Any]:
        return self.comm.allgather(value)

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)


def world() -> Group:
    """The group of this launch: :class:`MPIGroup` under ``mpiexec -n N`` (N > 1), else one process.

    Raises :class:`DistributedError` when launched among several processes without mpi4py.
    """
    size = launched_under_mpi()
    if size == 1:
        return Group()
    try:
        import mpi4py  # noqa: F401
    except ImportError as error:
        raise DistributedError(
            f"this process was started by an MPI launcher among {size} processes, but mpi4py is not installed "
            f"({error}); install it with `pip install 'rnnkit[mpi]'` (mpi4py and MPICH), or run without "
            f"mpiexec") from None
    from rnnkit import threads

    threads.apply_default()         # the ranks on one machine share its cores: no BLAS pool spinning against another
    return MPIGroup()


# --- parameters and gradients as one flat buffer ----------------------------------------------------
def flat_gradients(params: Sequence[Any], figures: Sequence[float], scale: float = 1.0) -> np.ndarray:
    """Every parameter's gradient times ``scale`` (zeros where it has none) and ``figures``, in one float64
    vector (P + F,)."""
    sizes = [param.data.size for param in params]
    buffer = np.empty(sum(sizes) + len(figures), dtype=np.float64)
    offset = 0
    for param, size in zip(params, sizes):
        if param.grad is None:
            buffer[offset:offset + size] = 0.0
        else:
            np.multiply(param.grad.reshape(-1), scale, out=buffer[offset:offset + size])
        offset += size
    buffer[offset:] = figures
    return buffer


def set_gradients(params: Sequence[Any], buffer: np.ndarray, scale: float) -> np.ndarray:
    """Write ``buffer``'s gradients, times ``scale``, into the parameters; return the figures after them."""
    offset = 0
    for param in params:
        size = param.data.size
        values = (buffer[offset:offset + size] * scale).reshape(param.data.shape).astype(param.data.dtype, copy=False)
        if param.grad is None:
            param.grad = values.copy()
        else:
            param.grad[...] = values
        offset += size
    return buffer[offset:]


def broadcast_parameters(group: Group, params: Sequence[Any]) -> None:
    """Rank 0's parameter values on every rank (one message per dtype)."""
    if group.size == 1:
        return
    for dtype in sorted({param.data.dtype.str for param in params}):
        chosen = [param for param in params if param.data.dtype.str == dtype]
        buffer = np.concatenate([param.data.reshape(-1) for param in chosen])
        group.broadcast_array(buffer)
        offset = 0
        for param in chosen:
            param.data[...] = buffer[offset:offset + param.data.size].reshape(param.data.shape)
            offset += param.data.size


def check_same(group: Group, what: str, value: Any) -> None:
    """Refuse to go on when the ranks disagree on ``value`` (e.g. the options they were started with)."""
    if group.size == 1:
        return
    values = group.allgather(json.dumps(value, sort_keys=True, default=str))
    differing = [rank for rank, other in enumerate(values) if other != values[0]]
    if differing:
        first = differing[0]
        raise DistributedError(f"the {group.size} ranks were started with different {what}: rank {first} has "
                               f"{values[first]}, rank 0 has {values[0]}; start every rank with the same command")


def check_batch(group: Group, batch_size: int, what: str = "examples") -> None:
    """Refuse more ranks than a batch has examples (a rank would have nothing to train on)."""
    if batch_size < group.size:
        raise DistributedError(f"{group.size} ranks but a batch of {batch_size} {what} (--batch {batch_size}): each "
                               f"rank needs at least one; give --batch {group.size} or more, or start fewer ranks")


def dropout_seed(seed: int, rank: int, step: int) -> np.random.Generator:
    """The generator rank ``rank`` draws its dropout masks from at step ``step``: reproducible, different per rank."""
    return np.random.default_rng([seed, rank, step])


class EmptyPart:
    """What a rank trains on when a (short, last) batch has fewer examples than there are ranks."""

    num_tokens = 0
