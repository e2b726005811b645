"""Numba's on-disk cache of the compiled loops, kept in step with every source file here.

Numba keys a cached function on its own file alone (modification time and size): a loop whose
helper changed (``vector``, ``tiles``, ``products``...) would load its old machine code. So
before the loops are imported, :func:`drop_stale` fingerprints all the sources of this package
and, when the fingerprint differs from the one recorded beside the cache, deletes the cache
files; Numba then compiles afresh and writes them again. In an installed copy the sources do
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
STAMP = "rnnkit-sources.sha256"


def fingerprint(folder: str = FOLDER) -> str:
    """SHA-256 over the names and contents of the package's ``.py`` files."""
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()


def drop_stale(cache: str | None = None, sources: str = FOLDER) -> bool:
    """Delete the cache files (``*.nbi``, ``*.nbc``) in ``cache`` (default: the package's
    ``__pycache__``) unless they were written from the sources as they are now; then record
    the sources' fingerprint there. True when files were deleted.

    Files are deleted before the new fingerprint is written, so no run can take stale code
    for current; where the folder cannot be written (a read-only install), nothing changes.
    """
    cache = cache or os.path.join(sources, "__pycache__")
    stamp = os.path.join(cache, STAMP)
    current = fingerprint(sources)
    try:
        with open(stamp) as recorded:
            if recorded.read().strip() == current:
                return False
    except OSError:
        pass
    stale = glob.glob(os.path.join(cache, "*.nbi")) + glob.glob(os.path.join(cache, "*.nbc"))
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
