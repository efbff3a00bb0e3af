"""Shape arithmetic and output allocation for the API modules. A leaf module (NumPy and
the standard library only).

NumPy arrays have up to 64 dimensions, but ``np.broadcast_shapes`` and ``np.broadcast``
stop at 32: `broadcast_shapes` here is shape arithmetic with no such limit. `empty`
allocates an output with reparam's own errors, so that a call that cannot hold its result
fails before it reserves any stream positions, naming the call and the size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

_MAX_BYTES = np.iinfo(np.intp).max
_MAX_NDIM = 64  # NumPy's limit on an array's dimensions (NPY_MAXDIMS)


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """broadcast_shapes(*shapes)

    The broadcast shape of `shapes` by NumPy's rules, for any number of dimensions.

    Raises
    ------
    ValueError
        If the shapes do not broadcast (callers replace the message with one naming
        their arguments).
    """
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        off = nd - len(s)
        for i, d in enumerate(s):
            have = out[off + i]
            if d != have:
                if have == 1:
                    out[off + i] = d
                elif d != 1:
                    raise ValueError(f"shapes {shapes} cannot be broadcast to a single shape")
    return tuple(out)


def _bytes_text(n: int) -> str:
    """A byte count as NumPy writes it in its allocation errors: 4.00 EiB, 512 bytes."""
    for unit, scale in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << scale:
            return f"{n / (1 << scale):.2f} {unit}"
    return f"{n} bytes"


def empty(shape: tuple[int, ...], dtype: np.dtype[Any], what: str) -> Array:
    """empty(shape, dtype, what)

    ``np.empty(shape, dtype)``, with errors that name `what` (the calling method) and
    the shape.

    Raises
    ------
    ValueError
        If no array of that shape and dtype can exist (more than 64 dimensions, or more
        bytes than an intp holds).
    MemoryError
        If the allocation fails.
    """
    if len(shape) > _MAX_NDIM:
        raise ValueError(f"{what}: an output of {len(shape)} dimensions: arrays have at most {_MAX_NDIM}, "
                         f"got shape {shape}")
    n = math.prod(shape)
    nbytes = n * dtype.itemsize
    if nbytes > _MAX_BYTES:
        raise ValueError(f"{what}: an output of shape {shape} is too big: {n} {dtype.name} values "
                         f"exceed the largest possible array")
    try:
        return np.empty(shape, dtype)
    except MemoryError:
        raise MemoryError(f"{what}: cannot allocate an output of shape {shape}: {n} {dtype.name} "
                          f"values ({_bytes_text(nbytes)})") from None


# Below this many bytes per array, empty_pair allocates two arrays (the allocator reuses
# small blocks; slicing and reshaping one block costs more than the second np.empty).
_PAIR_BLOCK_BYTES = 1 << 16


def empty_pair(shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[Array, Array]:
    """empty_pair(shape, dtype)

    Two C-contiguous arrays of `shape`, in one block when they are large (a pair of
    large arrays alive together costs the allocator fresh pages on every call, one block
    is reused). The block is flat, so `shape` may have all 64 dimensions an array can
    have.
    """
    n = math.prod(shape)
    if n * dtype.itemsize < _PAIR_BLOCK_BYTES:  # small: two arrays cost less than the views
        return np.empty(shape, dtype), np.empty(shape, dtype)
    both = np.empty(2 * n, dtype)
    return both[:n].reshape(shape), both[n:].reshape(shape)
