"""Run a compiled loop on several cores, split by rows and by blocks of units.

The loops of minGRU and minLSTM (:mod:`rnnkit.cells.scan`) treat every row b and unit j on its
own: h_t[b, j] depends on h_{t-1}[b, j] alone. So a loop that takes a range of rows and of
units, ``loop(*args, row_start, row_stop, unit_start, unit_stop)``, runs on disjoint ranges in
threads at once (the compiled loops release the GIL, ``nogil=True``). Rows are split first;
with fewer rows than cores, each row's units are split into blocks of at least
``MIN_UNITS``. Small problems (under ``MIN_ELEMENTS`` elements of T*B*H) run in the calling
thread: starting threads would cost more than the loop.

No Numba here.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from rnnkit import threads

MIN_ELEMENTS = 1 << 16
MIN_UNITS = 64

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def cores() -> int:
    """The threads a loop splits over: :func:`rnnkit.set_num_threads`, else the cores available."""
    return threads.get_num_threads()


def ranges(batch: int, hidden: int, steps: int, workers: int | None = None) -> list[tuple[int, int, int, int]]:
    """The (row_start, row_stop, unit_start, unit_stop) blocks a loop over (T, B, H) runs as.

    >>> ranges(4, 8, 100000, workers=2)
    [(0, 2, 0, 8), (2, 4, 0, 8)]
    >>> ranges(1, 256, 1000, workers=2)
    [(0, 1, 0, 128), (0, 1, 128, 256)]
    >>> ranges(3, 4, 5, workers=2)
    [(0, 3, 0, 4)]
    """
    workers = cores() if workers is None else workers
    if workers <= 1 or steps * batch * hidden < MIN_ELEMENTS:
        return [(0, batch, 0, hidden)]
    if batch >= workers:
        edges = [batch * part // workers for part in range(workers + 1)]
        return [(edges[i], edges[i + 1], 0, hidden) for i in range(workers) if edges[i] < edges[i + 1]]
    per_row = max(min(-(-workers // batch), hidden // MIN_UNITS), 1)
    edges = [hidden * part // per_row for part in range(per_row + 1)]
    return [(row, row + 1, edges[i], edges[i + 1]) for row in range(batch) for i in range(per_row)]


def run(loop, args: tuple, batch: int, hidden: int, steps: int) -> None:
    """``loop(*args, row_start, row_stop, unit_start, unit_stop)`` over :func:`ranges`, in threads."""
    blocks = ranges(batch, hidden, steps)
    if len(blocks) == 1:
        loop(*args, *blocks[0])
        return
    futures = [_executor().submit(loop, *args, *block) for block in blocks[1:]]
    loop(*args, *blocks[0])                  # the calling thread takes the first block
    for future in futures:
        future.result()                      # re-raises a thread's error here


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            workers = max(threads.available_cores() - 1, 1)      # the calling thread takes one block itself
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rnnkit-split")
        return _pool


def _forget_pool() -> None:
    """In a forked child the parent's threads do not exist: start a new pool when needed."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)
