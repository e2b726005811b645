"""Matrix products from inside compiled loops, through NumPy's own OpenBLAS.

Numba's ``np.dot`` needs SciPy and would bring a second OpenBLAS with a second thread pool.
Instead the loops call the CBLAS functions of the OpenBLAS that NumPy already loaded: the same
library, the same kernels (``OPENBLAS_CORETYPE`` and friends are respected) and the same
threads as every NumPy product. The functions are registered with LLVM under fixed names, so
the compiled loops refer to them by name and can be cached on disk (``cache=True``).

Row-major products used by the loops (``a`` has ``m`` rows; one row uses gemv)::

    gemm_nt(a (m, k), w (n, k), out (m, n), beta):  out = a @ w.T + beta * out
    gemm_nn(a (m, k), w (k, n), out (m, n), beta):  out = a @ w   + beta * out

Each row must be contiguous (any row stride: the leading dimensions come from the strides).
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

from rnnkit.compiled import cache

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_SYMBOL_CANDIDATES = {   # ILP64 builds only: integer arguments are 64-bit
    "sgemm": ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
    "dgemm": ("scipy_cblas_dgemm64_", "cblas_dgemm64_"),
    "sgemv": ("scipy_cblas_sgemv64_", "cblas_sgemv64_"),
    "dgemv": ("scipy_cblas_dgemv64_", "cblas_dgemv64_"),
}
_CORENAME_CANDIDATES = ("scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename")
_loaded: bool | None = None
library_path: str | None = None


def _candidate_paths() -> list[str]:
    """Shared libraries that look like NumPy's OpenBLAS: already mapped ones first."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    numpy_dir = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*", "../numpy/.dylibs/*openblas*"):
        paths.extend(sorted(glob.glob(os.path.join(numpy_dir, pattern))))
    return paths


def load() -> bool:
    """Find the CBLAS symbols and register them with LLVM; True on success (cached)."""
    global _loaded, library_path
    if _loaded is not None:
        return _loaded
    cache.drop_stale()                                # before any loop module loads cached code
    np.dot(np.ones((2, 2)), np.ones((2, 2)))          # make sure NumPy's BLAS is mapped
    import llvmlite.binding as llvm

    _loaded = False
    for path in _candidate_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        addresses = {}
        for name, symbols in _SYMBOL_CANDIDATES.items():
            for symbol in symbols:
                if hasattr(library, symbol):
                    addresses[name] = ctypes.cast(getattr(library, symbol), ctypes.c_void_p).value
                    break
        if len(addresses) == len(_SYMBOL_CANDIDATES):
            for name, address in addresses.items():
                llvm.add_symbol(f"rnnkit_cblas_{name}", address)
            library_path = path
            _loaded = True
            break
    return _loaded


def kernel_name() -> str:
    """The OpenBLAS kernel family in use (e.g. 'Haswell', 'SkylakeX', 'Zen'), or 'unknown'."""
    for path in _candidate_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in _CORENAME_CANDIDATES:
            if hasattr(library, symbol):
                function = getattr(library, symbol)
                function.restype = ctypes.c_char_p
                return function().decode()
    return "unknown"
