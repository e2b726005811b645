"""The two matrix products of the compiled loops, as Numba functions calling NumPy's OpenBLAS.

Row-major, C-contiguous arrays; ``a`` has ``m`` rows, and one row takes the matrix-vector
product (gemv), which is several times cheaper than a one-row gemm::

    gemm_nt(a (m, k), w (n, k), out (m, n), beta):  out = a @ w.T + beta * out
    gemm_nn(a (m, k), w (k, n), out (m, n), beta):  out = a @ w   + beta * out

Import this module only after :func:`rnnkit.compiled.blas.load` returned True: it names the
symbols that ``load`` registered.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import overload

from rnnkit.compiled.blas import NO_TRANS, ROW_MAJOR, TRANS

i32, i64, ptr = types.int32, types.int64, types.intp        # pointers passed as integers
gemm_f32 = types.ExternalFunction("rnnkit_cblas_sgemm", types.void(
    i32, i32, i32, i64, i64, i64, types.float32, ptr, i64, ptr, i64, types.float32, ptr, i64))
gemm_f64 = types.ExternalFunction("rnnkit_cblas_dgemm", types.void(
    i32, i32, i32, i64, i64, i64, types.float64, ptr, i64, ptr, i64, types.float64, ptr, i64))
gemv_f32 = types.ExternalFunction("rnnkit_cblas_sgemv", types.void(
    i32, i32, i64, i64, types.float32, ptr, i64, ptr, i64, types.float32, ptr, i64))
gemv_f64 = types.ExternalFunction("rnnkit_cblas_dgemv", types.void(
    i32, i32, i64, i64, types.float64, ptr, i64, ptr, i64, types.float64, ptr, i64))


def _pick(dtype):
    """(gemm, gemv, alpha = 1 in the right precision) for a Numba dtype."""
    if dtype == types.float32:
        return gemm_f32, gemv_f32, np.float32(1.0)
    return gemm_f64, gemv_f64, np.float64(1.0)


def gemm_nt(a, w, out, beta):
    """``out = a @ w.T + beta * out`` (compiled code only)."""
    raise NotImplementedError


def gemm_nn(a, w, out, beta):
    """``out = a @ w + beta * out`` (compiled code only)."""
    raise NotImplementedError


@overload(gemm_nt, jit_options={"cache": True})
def _gemm_nt(a, w, out, beta):
    gemm, gemv, alpha = _pick(a.dtype)

    def implementation(a, w, out, beta):
        m, k = a.shape
        n = w.shape[0]
        if m == 1:                      # one row: y = W x, a matrix-vector product
            if beta == 0:
                out[0, :] = 0
            gemv(ROW_MAJOR, NO_TRANS, n, k, alpha, w.ctypes.data, k, a.ctypes.data, 1, beta,
                 out.ctypes.data, 1)
        else:
            gemm(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, alpha, a.ctypes.data, k, w.ctypes.data, k, beta,
                 out.ctypes.data, n)
    return implementation


@overload(gemm_nn, jit_options={"cache": True})
def _gemm_nn(a, w, out, beta):
    gemm, gemv, alpha = _pick(a.dtype)

    def implementation(a, w, out, beta):
        m, k = a.shape
        n = w.shape[1]
        if m == 1:                      # one row: y = W^T x
            if beta == 0:
                out[0, :] = 0
            gemv(ROW_MAJOR, TRANS, k, n, alpha, w.ctypes.data, n, a.ctypes.data, 1, beta,
                 out.ctypes.data, 1)
        else:
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, alpha, a.ctypes.data, k, w.ctypes.data, n, beta,
                 out.ctypes.data, n)
    return implementation

