"""The lock that makes one process the owner of a run directory.

A training run holds ``.rnnkit.lock`` in its directory: a JSON file naming the process (pid,
host, start time), created exclusively (a hard link of a filled file, or ``O_CREAT | O_EXCL``)
so that exactly one of two runs started on the same directory gets it; the other is refused
with the holder's name. A lock left by a process that no longer runs on this host is taken
over with a note. :mod:`rnnkit.train.run_dir` takes and releases it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any, Callable

LOCK_FILE = ".rnnkit.lock"
# A lock file that cannot be read (a writer caught between creating and filling it) counts as
# held for this long; after that it is taken as left by a crash.
UNREADABLE_LOCK_GRACE_S = 30.0


class RunDirectoryError(ValueError):
    """A run directory that this run may not use; the message says why and what to do."""


def _holder() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}


def read_lock(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The holder named by ``folder``'s lock file, or None when there is none or it cannot be read."""
    try:
        document = json.loads((Path(folder) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and isinstance(document.get("pid"), int) else None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (signal 0 tests it without touching it, on POSIX)."""
    if os.name == "nt":                 # os.kill would terminate it there: never take over a lock
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # someone else's process: it exists
        return True
    except (OSError, OverflowError):
        return False
    return True


def _create_exclusive(path: Path, payload: bytes) -> None:
    """Create ``path`` holding ``payload``, or raise FileExistsError if it exists.

    The content is written to a private file first and linked to ``path`` (a link, like
    ``O_CREAT | O_EXCL``, fails when the name exists), so a reader never sees an empty lock.
    Where hard links are not supported, ``O_CREAT | O_EXCL`` and then the write.
    """
    private = path.parent / f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    private.write_bytes(payload)
    try:
        os.link(private, path)
        return
    except FileExistsError:
        raise
    except OSError:                                  # no hard links on this file system
        pass
    finally:
        private.unlink()
    handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    with os.fdopen(handle, "wb") as stream:
        stream.write(payload)


def acquire_lock(folder: Path, log: Callable[[str], None] = print) -> None:
    """Make this process the owner of ``folder`` or raise :class:`RunDirectoryError` naming the owner."""
    path = folder / LOCK_FILE
    payload = json.dumps(_holder()).encode()
    for _ in range(5):
        try:
            _create_exclusive(path, payload)
        except FileExistsError:
            holder = read_lock(folder)
            if holder is None:
                try:
                    age = time.time() - path.stat().st_mtime
                except FileNotFoundError:
                    continue                                   # released meanwhile: try again
                if age < UNREADABLE_LOCK_GRACE_S:
                    raise RunDirectoryError(f"{folder} is in use: another run is just taking it ({LOCK_FILE} "
                                            f"was created {age:.0f} s ago); choose another --out") from None
                log(f"note: {folder}: taking over an unreadable {LOCK_FILE} left {age:.0f} s ago")
            elif holder.get("host") != socket.gethostname() or process_alive(holder["pid"]):
                raise RunDirectoryError(
                    f"{folder} is in use by the run of process {holder['pid']} on {holder.get('host')} (started "
                    f"{holder.get('started')}): wait for it to finish, or choose another --out. If that process "
                    f"is gone, delete {path}") from None
            else:
                log(f"note: {folder}: taking over the lock of process {holder['pid']}, which is no longer running "
                    f"(a run that crashed or was killed)")
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            continue
        return
    raise RunDirectoryError(f"{folder}: could not take {LOCK_FILE}; another run keeps taking it")


def release_lock(folder: Path) -> None:
    """Remove ``folder``'s lock if this process holds it."""
    holder = read_lock(folder)
    if holder is not None and holder["pid"] == os.getpid() and holder.get("host") == socket.gethostname():
        try:
            (folder / LOCK_FILE).unlink()
        except FileNotFoundError:
            pass
