"""The two matrix products of the compiled loops, as Numba functions calling NumPy's OpenBLAS.

Row-major arrays whose rows are contiguous (any row stride: the leading dimensions come from
the strides, so a step's rows of a batch-major (B, T, W) array serve as they are); ``a`` has
``m`` rows, and one row takes the matrix-vector product (gemv), which is several times cheaper
than a one-row gemm::

    gemm_nt(a (m, k), w (n, k), out (m, n), beta):  out = a @ w.T + beta * out
    gemm_nn(a (m, k), w (k, n), out (m, n), beta):  out = a @ w   + beta * out

The forward loops' recurrent product ``h_{t-1} W_hh^T`` has few rows (the batch) and many
columns (the gates); :func:`gemm_nt_by_columns` computes it as ``(W_hh h_{t-1}^T)^T``, the
orientation OpenBLAS runs fastest, with two small transposes by tiles in SIMD registers. The
backward loops' ``dz W_hh`` runs the same way where that measured faster (:func:`transposed`).

Import this module only after :func:`rnnkit.compiled.blas.load` returned True: it names the
symbols that ``load`` registered.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from rnnkit.compiled.blas import NO_TRANS, ROW_MAJOR, TRANS
from rnnkit.compiled.common import JIT_OPTIONS
from rnnkit.compiled.tiles import TILE, add_transposed_tile, transpose_tile

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


@njit(**JIT_OPTIONS)
def leading(matrix):
    """The row stride of a matrix in elements: BLAS's leading dimension (rows must be contiguous)."""
    return matrix.strides[0] // matrix.itemsize


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
            gemv(ROW_MAJOR, NO_TRANS, n, k, alpha, w.ctypes.data, leading(w), a.ctypes.data, 1, beta,
                 out.ctypes.data, 1)
        else:
            gemm(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, alpha, a.ctypes.data, leading(a), w.ctypes.data, leading(w),
                 beta, out.ctypes.data, leading(out))
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
            gemv(ROW_MAJOR, TRANS, k, n, alpha, w.ctypes.data, leading(w), a.ctypes.data, 1, beta,
                 out.ctypes.data, 1)
        else:
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, alpha, a.ctypes.data, leading(a), w.ctypes.data,
                 leading(w), beta, out.ctypes.data, leading(out))
    return implementation


@njit(**JIT_OPTIONS)
def transpose_into(a, out):
    """out (n, m) = a (m, n)^T, by 8 x 8 tiles (:mod:`rnnkit.compiled.tiles`).

    The inner loop walks along the rows of whichever array has the longer rows, so that its
    cache lines are filled one after the other; walking across them instead touches one line
    per row, rows a multiple of 2 KiB apart share a handful of cache sets, and the lines are
    evicted before they are complete. Tiles go in pairs across the other array's rows, so that
    each of its rows receives 16 values (a whole 64-byte line in float32) at once.
    Measurements: docs/compiled-loops.md.
    """
    rows, columns = a.shape
    full_rows, full_columns = rows - rows % TILE, columns - columns % TILE
    if a.strides[0] >= out.strides[0]:                     # along the rows of a
        paired = full_rows - full_rows % (2 * TILE)
        for i0 in range(0, paired, 2 * TILE):
            for j0 in range(0, full_columns, TILE):
                transpose_tile(a, i0, j0, out)
                transpose_tile(a, i0 + TILE, j0, out)
        for i0 in range(paired, full_rows, TILE):
            for j0 in range(0, full_columns, TILE):
                transpose_tile(a, i0, j0, out)
    else:                                                   # along the rows of out
        paired = full_columns - full_columns % (2 * TILE)
        for j0 in range(0, paired, 2 * TILE):
            for i0 in range(0, full_rows, TILE):
                transpose_tile(a, i0, j0, out)
                transpose_tile(a, i0, j0 + TILE, out)
        for j0 in range(paired, full_columns, TILE):
            for i0 in range(0, full_rows, TILE):
                transpose_tile(a, i0, j0, out)
    for i in range(full_rows, rows):
        for j in range(columns):
            out[j, i] = a[i, j]
    for i in range(full_rows):
        for j in range(full_columns, columns):
            out[j, i] = a[i, j]


@njit(**JIT_OPTIONS)
def add_transposed(product_t, out):
    """out (m, n) += product_t (n, m)^T, by 8 x 8 tiles."""
    rows, columns = out.shape
    full_rows, full_columns = rows - rows % TILE, columns - columns % TILE
    for i0 in range(0, full_rows, TILE):
        for j0 in range(0, full_columns, TILE):
            add_transposed_tile(product_t, j0, i0, out)
    for i in range(full_rows, rows):
        for j in range(columns):
            out[i, j] += product_t[j, i]
    for i in range(full_rows):
        for j in range(full_columns, columns):
            out[i, j] += product_t[j, i]


@njit(**JIT_OPTIONS)
def gemm_nt_by_columns(a, w, out, accumulate, a_t, product_t, zero):
    """``out = a @ w.T`` (``out += a @ w.T`` when accumulate), computed as ``(w @ a^T)^T``.

    a (m, k) with few rows (the batch), w (n, k); scratch a_t (k, m) and product_t (n, m).
    OpenBLAS runs ``w @ a^T`` (many rows, few columns) close to the speed of one large product
    but ``a @ w.T`` (few rows, many columns) markedly slower; the two small transposes cost much
    less than that difference (docs/compiled-loops.md).
    """
    transpose_into(a, a_t)
    gemm_nn(w, a_t, product_t, zero)
    if accumulate:
        add_transposed(product_t, out)
    else:
        transpose_into(product_t, out)


@njit(**JIT_OPTIONS)
def recurrent_product(a, w, out, accumulate, a_t, product_t, zero, one):
    """``out = a @ w.T`` (``+=`` when accumulate): by columns for a batch, gemv for one row.

    The forward loops' per-step ``h_{t-1} W_hh^T`` (w = W_hh), and through
    :func:`backward_product` the backward loops' ``dz W_hh`` (w = W_hh^T). Scratch a_t (k, m),
    product_t (n, m).
    """
    if a.shape[0] > 1:
        gemm_nt_by_columns(a, w, out, accumulate, a_t, product_t, zero)
    else:
        gemm_nt(a, w, out, one if accumulate else zero)


@njit(**JIT_OPTIONS)
def backward_product(dz, w, w_t, out, accumulate, dz_t, product_t, zero, one):
    """``out = dz @ w`` (``+=`` when accumulate): the backward loops' per-step ``dz W_hh``.

    dz (B, G), w (G, H). With w_t (H, G) = w^T (shape (0, 0) for none, see :func:`transposed`)
    and B > 1 it runs as ``(w^T dz^T)^T`` (:func:`gemm_nt_by_columns`), the orientation OpenBLAS
    is faster at, at the cost of transposing dz every step; scratch dz_t (G, B), product_t (H, B).
    """
    if w_t.shape[0] > 0 and dz.shape[0] > 1:
        gemm_nt_by_columns(dz, w_t, out, accumulate, dz_t, product_t, zero)
    else:
        gemm_nn(dz, w, out, one if accumulate else zero)


BY_COLUMNS_MAX_ROWS = 2048     # measured: at 64 x 2048 and more the transposes outweigh the gain


def transposed(w, batch):
    """w^T, C-contiguous (by tiles), for :func:`backward_product`; (0, 0) where it keeps ``dz @ w``.

    w (G*H, H) is W_hh. By columns for a batch of rows when W_hh has fewer than
    :data:`BY_COLUMNS_MAX_ROWS` rows: above that each step's wide dz (B, G*H) costs more to
    transpose than the better orientation saves (measured: docs/compiled-loops.md).
    """
    if batch == 1 or w.shape[0] >= BY_COLUMNS_MAX_ROWS:
        return np.empty((0, 0), dtype=w.dtype)
    out = np.empty((w.shape[1], w.shape[0]), dtype=w.dtype)
    transpose_into(w, out)
    return out
