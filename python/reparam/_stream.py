"""The `Noise` handle: a position in the stream plus the shape, dtype and antithetic flag
of the noise drawn there. A leaf module (only _core, NumPy and the standard library), so
that every layer above can import it."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core

__all__ = ["Noise"]

Array = npt.NDArray[Any]


def _checked_int(value: Any, name: str, bits: int) -> int:
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"Noise {name} must be an integer, got {type(value).__name__}") from None
    if not 0 <= v < (1 << bits):
        raise ValueError(f"Noise {name} must be in [0, 2**{bits}), got {v}")
    return v


class Noise:
    """Noise(key, counter, start, shape, dtype, antithetic)

    A handle to the exact standard normal noise of one `Normal.rsample` call: the
    stream key, the counter of the block it started in, the start position, the
    sample shape, dtype and antithetic flag. A few bytes; ``np.asarray(noise)``
    regenerates the values bit for bit.
    """

    __slots__ = ("_pos", "antithetic", "dtype", "shape")

    def __init__(self, key: int, counter: int, start: int, shape: tuple[int, ...],
                 dtype: Any, antithetic: bool) -> None:
        key = _checked_int(key, "key", 64)
        counter = _checked_int(counter, "counter", 128)
        start = _checked_int(start, "start", 64)
        try:
            self.shape = tuple(operator.index(d) for d in shape)
        except TypeError:
            raise TypeError(f"Noise shape must be a tuple of ints, got {shape!r}") from None
        if any(d < 0 for d in self.shape):
            raise ValueError(f"Noise shape must not have negative dimensions, got {self.shape}")
        if math.prod(self.shape) > np.iinfo(np.intp).max // 8:
            raise ValueError(f"Noise shape {self.shape} is too big")
        try:
            self.dtype = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"Noise dtype must be float32 or float64 ({exc})") from None
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)) or not self.dtype.isnative:
            raise TypeError(f"Noise dtype must be float32 or float64, got {self.dtype}")
        self.antithetic = bool(antithetic)
        if self.antithetic and (not self.shape or self.shape[0] % 2):
            raise ValueError(f"antithetic Noise needs an even first dimension, got shape {self.shape}")
        self._pos = _core.StreamPos(key, counter, start, 2 if self.dtype.itemsize == 8 else 1)

    @classmethod
    def _from_core(cls, pos: _core.StreamPos, shape: tuple[int, ...], dtype: np.dtype[Any],
                   antithetic: bool) -> Noise:
        """The handle of a position the core returned for a sample it checked (no checks again)."""
        self = cls.__new__(cls)
        self._pos = pos
        self.shape, self.dtype, self.antithetic = shape, dtype, antithetic
        return self

    @property
    def key(self) -> int:
        """The stream's 64-bit key."""
        return self._pos.key

    @property
    def counter(self) -> int:
        """The 128-bit counter of the block the noise starts in."""
        return self._pos.counter

    @property
    def start(self) -> int:
        """Where the noise starts: values (32-bit words for float32, 64-bit slots for
        float64) past the first word of block `counter`."""
        return self._pos.start

    @property
    def size(self) -> int:
        """Number of noise values (the product of `shape`)."""
        return math.prod(self.shape)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Array:
        n = self.size
        drawn = n // 2 if self.antithetic else n
        half = np.empty(drawn, self.dtype)
        self._pos.fill("normal", half)
        eps = np.concatenate([half, -half]) if self.antithetic else half
        eps = eps.reshape(self.shape)
        return eps if dtype is None else eps.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (f"Noise(shape={self.shape}, dtype={self.dtype.name}, "
                f"antithetic={self.antithetic}, key={self.key:#x}, "
                f"counter={self.counter:#x}, start={self.start})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Noise):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (self._pos, self.shape, self.dtype, self.antithetic)

    def __reduce__(self) -> tuple[type[Noise], tuple[int, int, int, tuple[int, ...], str, bool]]:
        # The constructor's arguments, the dtype by name: every pickle protocol (0 and 1
        # refuse a __slots__ class without this), and the loaded handle checked again and
        # holding NumPy's own dtype instance, which the core checks for.
        return (Noise, (self.key, self.counter, self.start, self.shape, self.dtype.name, self.antithetic))
