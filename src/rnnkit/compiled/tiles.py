"""8 x 8 tiles of a transpose, moved in SIMD registers: the blocks of the forward loops' transposes.

A tile is eight rows of eight values. In float32 a tile is transposed in registers: eight
8-wide vector loads, the usual three rounds of shuffles (pairs of rows interleaved, then pairs of
pairs, then 128-bit halves exchanged) and eight vector stores. LLVM's vectoriser never finds
this on its own: the element-by-element loop over a tile compiles to scalar loads and stores,
several times slower (docs/compiled-loops.md). Numba has no vector
types, so the shuffles are written as LLVM IR through :func:`numba.extending.intrinsic`. In
float64 (the reference precision, where speed matters less) a tile is the plain loop.

Both functions take the tile's top-left element as (row, column) of ``source``::

    transpose_tile(source, row, column, out):       out[column:+8, row:+8]  = source[row:+8, column:+8]^T
    add_transposed_tile(source, row, column, out):  out[column:+8, row:+8] += source[row:+8, column:+8]^T

Rows of ``source`` and ``out`` must be contiguous (any row stride).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

TILE = 8
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_FLOAT8 = ir.VectorType(ir.FloatType(), TILE)


def _shuffle(builder, a, b, picks):
    """Elements of the 16-vector ``a ++ b`` at ``picks``."""
    return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, TILE), [ir.Constant(_I32, i) for i in picks]))


def _transposed(builder, rows):
    """The eight columns of the tile whose eight rows are ``rows`` (<8 x float> values)."""
    pairs = []                                                  # rows k, k+1 interleaved
    for k in range(0, TILE, 2):
        pairs.append(_shuffle(builder, rows[k], rows[k + 1], (0, 8, 1, 9, 4, 12, 5, 13)))
        pairs.append(_shuffle(builder, rows[k], rows[k + 1], (2, 10, 3, 11, 6, 14, 7, 15)))
    quads = []                                                  # four rows' values, per 128-bit half
    for first in (0, 4):
        for k in (first, first + 1):
            quads.append(_shuffle(builder, pairs[k], pairs[k + 2], (0, 1, 8, 9, 4, 5, 12, 13)))
            quads.append(_shuffle(builder, pairs[k], pairs[k + 2], (2, 3, 10, 11, 6, 7, 14, 15)))
    columns = [None] * TILE
    for k in range(4):                                          # low halves: columns 0-3, high: 4-7
        columns[k] = _shuffle(builder, quads[k], quads[k + 4], (0, 1, 2, 3, 8, 9, 10, 11))
        columns[k + 4] = _shuffle(builder, quads[k], quads[k + 4], (4, 5, 6, 7, 12, 13, 14, 15))
    return columns


def _tile_intrinsic(accumulate: bool):
    """An intrinsic (source address, source row bytes, out address, out row bytes) -> None."""

    @intrinsic
    def tile(typingctx, source, source_row, out, out_row):
        def codegen(context, builder, signature, args):
            source, source_row, out, out_row = args

            def row(base, row_bytes, k):
                address = builder.add(base, builder.mul(row_bytes, ir.Constant(_I64, k)))
                return builder.inttoptr(address, _FLOAT8.as_pointer())

            rows = [builder.load(row(source, source_row, k), align=4) for k in range(TILE)]
            for k, column in enumerate(_transposed(builder, rows)):
                target = row(out, out_row, k)
                if accumulate:
                    column = builder.fadd(builder.load(target, align=4), column)
                builder.store(column, target, align=4)
            return context.get_dummy_value()

        return types.void(types.intp, types.intp, types.intp, types.intp), codegen

    return tile


_copy_tile_f32 = _tile_intrinsic(accumulate=False)
_add_tile_f32 = _tile_intrinsic(accumulate=True)


def transpose_tile(source, row, column, out):
    """out[column:column+8, row:row+8] = source[row:row+8, column:column+8]^T (compiled code only)."""
    raise NotImplementedError


def add_transposed_tile(source, row, column, out):
    """out[column:column+8, row:row+8] += source[row:row+8, column:column+8]^T (compiled code only)."""
    raise NotImplementedError


def _overload_tile(accumulate: bool):
    simd = _add_tile_f32 if accumulate else _copy_tile_f32

    def generic(source, row, column, out):
        if source.dtype == types.float32 and out.dtype == types.float32:
            size = np.dtype(np.float32).itemsize

            def in_registers(source, row, column, out):
                simd(source.ctypes.data + (row * source.strides[0] + column * size), source.strides[0],
                     out.ctypes.data + (column * out.strides[0] + row * size), out.strides[0])
            return in_registers

        def by_elements(source, row, column, out):
            for i in range(TILE):
                for j in range(TILE):
                    if accumulate:
                        out[column + j, row + i] += source[row + i, column + j]
                    else:
                        out[column + j, row + i] = source[row + i, column + j]
        return by_elements
    return generic


overload(transpose_tile, jit_options={"cache": True})(_overload_tile(accumulate=False))
overload(add_transposed_tile, jit_options={"cache": True})(_overload_tile(accumulate=True))
