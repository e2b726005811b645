"""How many threads rnnkit computes on: one knob for the BLAS pool and rnnkit's own loops.

``rnnkit.set_num_threads(n)`` sets both:

* the threads of NumPy's BLAS (OpenBLAS, or any other BLAS or OpenMP pool NumPy loaded), which
  run every matrix product, the per-step products of the compiled loops included (they call
  the same library), through ``threadpoolctl``;
* the threads the compiled minGRU/minLSTM loops split their rows and units over
  (:mod:`rnnkit.compiled.split`).

The default is the cores this process may run on, shared among the processes an MPI launcher
started on the same machine (``mpiexec -n 2`` on 2 cores: one thread each, so two ranks' BLAS
pools do not spin against each other); ``RNNKIT_THREADS`` overrides it, and so does ``rnnkit
--threads N`` on the command line. Results at
one thread and at several agree within float rounding: the split loops compute each element the
same way whatever the split, and BLAS may only sum in another order (tests/test_threads.py).

>>> import rnnkit
>>> before = rnnkit.get_num_threads()
>>> rnnkit.set_num_threads(1)
>>> rnnkit.get_num_threads()
1
>>> rnnkit.set_num_threads(before)
"""

from __future__ import annotations

import operator
import os
from typing import Any

_chosen: int | None = None          # set_num_threads(n); None: the default


def available_cores() -> int:
    """The cores this process may run on (at least 1)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:          # not on Linux
        return max(os.cpu_count() or 1, 1)


# Set by MPI launchers to the number of ranks they started on this machine (MPICH/Intel MPI's
# Hydra, Open MPI, MVAPICH2).
LOCAL_RANK_VARIABLES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE")


def local_ranks(environ: dict[str, str] | None = None) -> int:
    """How many processes an MPI launcher started on this machine (1 without one).

    >>> local_ranks({}), local_ranks({"MPI_LOCALNRANKS": "2"})
    (1, 2)
    """
    environ = os.environ if environ is None else environ
    for name in LOCAL_RANK_VARIABLES:
        value = environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def default_num_threads() -> int:
    """``RNNKIT_THREADS`` when it is a positive integer, else this process's share of the cores:
    :func:`available_cores` divided among the :func:`local_ranks` (at least 1)."""
    wanted = os.environ.get("RNNKIT_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return max(available_cores() // local_ranks(), 1)


def apply_default() -> None:
    """Limit the BLAS pool to :func:`get_num_threads` where that differs from the BLAS's own default
    (all cores): after ``set_num_threads``, under ``RNNKIT_THREADS`` or under an MPI launcher.
    The command line and :func:`rnnkit.distributed.world` call it; a plain process is left as it is."""
    if _chosen is not None or get_num_threads() != available_cores():
        set_num_threads(get_num_threads())


def get_num_threads() -> int:
    """The threads rnnkit's own loops split over: the last :func:`set_num_threads`, else the default."""
    return _chosen if _chosen is not None else default_num_threads()


def set_num_threads(n: Any) -> None:
    """Compute on ``n`` threads (a positive integer): the BLAS pool and rnnkit's split loops."""
    global _chosen
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads expects a positive integer number of threads, got {n!r}")
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"set_num_threads expects a positive integer number of threads, got {n}")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)     # every BLAS and OpenMP pool loaded now, for the rest of the process
    _chosen = n
