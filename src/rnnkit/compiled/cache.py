"""Numba's on-disk cache of the compiled loops, kept in step with every source file here.

Numba keys a cached function on its own file alone (modification time and size): a loop whose
helper changed (``tiles``, ``products``...) would load its old machine code. So before the
loops are imported, :func:`drop_stale` fingerprints all the compiled sources (this package and
each cell kind's ``rnnkit/cells/<kind>/compiled.py``) and, when the fingerprint differs from
the one recorded beside the cache, deletes the cache files in each of their ``__pycache__``
folders; Numba then compiles afresh and writes them again. In an installed copy the sources do
not change and this costs one hash of about 100 KB per process; it matters in a source
checkout. (With ``NUMBA_CACHE_DIR`` set, Numba caches elsewhere and this folder holds no
cache: delete that one by hand after editing.)

No Numba here.
"""

from __future__ import annotations

import glob
import hashlib
import os

FOLDER = os.path.dirname(os.path.abspath(__file__))
CELLS = os.path.join(os.path.dirname(FOLDER), "cells")
STAMP = "rnnkit-sources.sha256"


def source_files(folder: str | None = None) -> list[str]:
    """The ``.py`` files of ``folder``; by default this package's and the cells' ``compiled.py``."""
    if folder is not None:
        return sorted(glob.glob(os.path.join(folder, "*.py")))
    return sorted(glob.glob(os.path.join(FOLDER, "*.py"))) + sorted(glob.glob(os.path.join(CELLS, "*", "compiled.py")))


def fingerprint(folder: str | None = None) -> str:
    """SHA-256 over the names and contents of the compiled sources (see :func:`source_files`)."""
    digest = hashlib.sha256()
    for path in source_files(folder):
        digest.update(os.path.relpath(path, os.path.dirname(os.path.dirname(path))).encode() + b"\0")
        with open(path, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()


def drop_stale(cache: str | None = None, sources: str | None = None) -> bool:
    """Delete the cache files (``*.nbi``, ``*.nbc``) in ``cache`` (default: the ``__pycache__``
    of every compiled source's folder) unless they were written from the sources as they are
    now; then record the sources' fingerprint in the first of them. True when files were deleted.

    Files are deleted before the new fingerprint is written, so no run can take stale code
    for current; where the folder cannot be written (a read-only install), nothing changes.
    """
    folders = [cache] if cache else list(dict.fromkeys(os.path.join(os.path.dirname(path), "__pycache__")
                                                        for path in source_files(sources)))
    cache = folders[0] if folders else os.path.join(sources or FOLDER, "__pycache__")
    folders = folders or [cache]
    stamp = os.path.join(cache, STAMP)
    current = fingerprint(sources)
    try:
        with open(stamp) as recorded:
            if recorded.read().strip() == current:
                return False
    except OSError:
        pass
    stale = [path for folder in folders for pattern in ("*.nbi", "*.nbc")
             for path in glob.glob(os.path.join(folder, pattern))]
    for path in stale:
        try:
            os.remove(path)
        except OSError:                 # another process removed it first, or no permission
            pass
    try:
        os.makedirs(cache, exist_ok=True)
        partial = f"{stamp}.{os.getpid()}"
        with open(partial, "w") as written:
            written.write(current + "\n")
        os.replace(partial, stamp)      # whole or not at all
    except OSError:
        pass
    return bool(stale)
