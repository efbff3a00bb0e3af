"""The Philox4x32-10 bit generator."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _core
from ._bitgen import PhiloxBitGenerator
from ._shapes import empty

__all__ = ["Philox"]



def _as_int(value: Any, name: str, bits: int) -> int:
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {type(value).__name__}"
        ) from None
    if not 0 <= v < (1 << bits):
        raise ValueError(f"{name} must be in [0, 2**{bits}), got {v}")
    return v


def _as_count(value: Any, name: str) -> int:
    """A non-negative integer argument (operator.index), with errors that name it."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if v < 0:
        raise ValueError(f"{name} must be non-negative, got {v}")
    return v


class Philox(PhiloxBitGenerator):
    """Philox(seed=None, *, key=None, counter=None)

    Counter-based Philox4x32-10 bit generator (Salmon et al., SC11).

    Word ``p`` of the stream (``p = 0, 1, ...``) is word ``p % 4`` of the block
    ``philox4x32_10(counter + 1 + p // 4, key)``; the 128-bit counter wraps at
    ``2**128``. This is the raw stream of ``randomgen.Philox(number=4, width=32,
    key=key, counter=counter)``.

    Parameters
    ----------
    seed : None, int or numpy.random.SeedSequence, optional
        Entropy from which the 64-bit key is derived as NumPy derives state:
        ``SeedSequence(seed).generate_state(2, np.uint32)`` gives key words 0 and 1.
        ``None`` draws fresh entropy from the operating system.
    key : int, optional
        The key itself, ``0 <= key < 2**64`` (word 0 = low 32 bits). Cannot be
        combined with `seed`.
    counter : int, optional
        Initial counter, ``0 <= counter < 2**128`` (word 0 = lowest). Default 0.

    Notes
    -----
    A ``numpy.random.BitGenerator``: ``numpy.random.Generator(Philox(0))`` draws every
    NumPy distribution from this stream, and pickles, copies and spawns like NumPy's own
    bit generators; ``ctypes``, ``cffi`` and ``capsule`` give the ``bitgen_t`` interface
    to numba and C code.

    ``lock`` is held while positions of the stream are reserved; it is the lock
    ``numpy.random.Generator`` uses when driven by this bit generator, so
    ``np.random.Generator(Philox(0))`` draws NumPy's distributions from this stream
    (``next_uint64`` joins two words, low word first). It behaves as a
    ``threading.RLock``: the thread holding it (``with p.lock:``, to read or set the
    state consistently) can take it again and call every method, draw and NumPy
    distribution; other threads wait until it is released. A signal handler that
    raises interrupts a wait of the main thread (Ctrl-C: KeyboardInterrupt, nothing
    drawn).
    """

    def __init__(
        self,
        seed: int | np.random.SeedSequence | None = None,
        *,
        key: int | None = None,
        counter: int | None = None,
    ) -> None:
        if key is not None and seed is not None:
            raise ValueError("seed and key cannot be both used")
        seed_seq: np.random.SeedSequence | None
        if key is None:
            if isinstance(seed, np.random.SeedSequence):
                seed_seq = seed
            elif isinstance(seed, np.random.BitGenerator | np.random.Generator):
                raise TypeError(
                    "seed must be None, an int or a numpy.random.SeedSequence, got "
                    f"{type(seed).__name__}"
                )
            else:
                try:
                    seed_seq = np.random.SeedSequence(seed)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(
                        "seed must be None, a non-negative int, a sequence of them or a "
                        f"numpy.random.SeedSequence ({exc})"
                    ) from None
            words = seed_seq.generate_state(2, np.uint32)
            key_int = int(words[0]) | (int(words[1]) << 32)
        else:
            seed_seq = None
            key_int = _as_int(key, "key", 64)
        ctr = 0 if counter is None else _as_int(counter, "counter", 128)
        self._state = _core.PhiloxState(key_int, 0, 0, 0)
        _core.philox_set_state(self._state, key_int, ctr, 0)
        self._attach(self._state, self._state.make_lock(), seed_seq)

    # -- NumPy bit generator protocol: capsule, ctypes, cffi, lock and seed_seq come from
    # numpy.random.BitGenerator (via PhiloxBitGenerator, which holds this stream's bitgen_t)

    # -- state --------------------------------------------------------------------
    @property  # type: ignore[override]  # a dict, set from a dict
    def state(self) -> dict[str, Any]:
        """Get or set the state as a dict.

        ``{"bit_generator": "Philox", "state": {"key": k, "counter": c},
        "buffer_pos": b}``: the next word is word ``b`` (0 to 3) of block
        ``counter + 1``, as in randomgen.
        """
        key, counter, word = _core.philox_get_state(self._state)
        return {
            "bit_generator": "Philox",
            "state": {"key": key, "counter": counter},
            "buffer_pos": word,
        }

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise TypeError(f"state must be a dict, got {type(value).__name__}")
        if value.get("bit_generator") != "Philox":
            raise ValueError(
                "state must be for a Philox bit generator, got "
                f"{value.get('bit_generator')!r}"
            )
        try:
            inner = value["state"]
            if not isinstance(inner, dict):
                raise TypeError(f"state['state'] must be a dict, got {type(inner).__name__}")
            key = _as_int(inner["key"], "state['state']['key']", 64)
            ctr = _as_int(inner["counter"], "state['state']['counter']", 128)
            word = _as_int(value.get("buffer_pos", 0), "state['buffer_pos']", 2)
        except KeyError as exc:
            raise ValueError(f"state is missing the entry {exc}") from None
        _core.philox_set_state(self._state, key, ctr, word)

    def advance(self, delta: int) -> Philox:
        """advance(delta)

        Advance the stream by `delta` 32-bit words, as if `delta` words had been
        drawn with `random_raw` (``0 <= delta``; the counter wraps at ``2**128``
        blocks). Returns self.
        """
        d = _as_count(delta, "delta")
        _core.stream_advance(self._state, d)
        return self

    def jumped(self, jumps: int = 1) -> Philox:
        """jumped(jumps=1)

        A new Philox with the same key whose position is ``jumps * 2**64`` blocks
        (``2**66`` words) ahead of this one; this one is not changed.
        """
        j = _as_count(jumps, "jumps")
        new = Philox(key=0)
        new._state = _core.stream_jumped(self._state, j)
        # as NumPy's jumped(): children spawn from the same SeedSequence
        new._attach(new._state, new._state.make_lock(), self._seed_seq)
        return new

    def spawn(self, n_children: int) -> list[Philox]:
        """spawn(n_children)

        Independent child bit generators from ``seed_seq.spawn(n_children)``.
        Raises TypeError when this generator was made from a key (no SeedSequence).
        """
        if self._seed_seq is None:
            raise TypeError(
                "spawn needs a SeedSequence: this Philox was created from a key; "
                "create it from a seed to spawn children"
            )
        return [Philox(s) for s in self._seed_seq.spawn(_as_count(n_children, "n_children"))]

    def random_raw(self, size: int | tuple[int, ...] | None = None, output: bool = True) -> Any:  # type: ignore[override]  # 32-bit words
        """random_raw(size=None, output=True)

        The next raw 32-bit words of the stream.

        Returns a Python int when `size` is None, else an array of np.uint32 of
        shape `size`; None when `output` is False (the words are skipped).
        """
        if size is None:
            out = np.empty(1, np.uint32)
            _core.fill_raw(self._state, out)
            return int(out[0]) if output else None
        shape = _normalize_size(size)
        out = empty(shape, np.dtype(np.uint32), "random_raw")
        _core.fill_raw(self._state, out)
        return out if output else None

    # -- pickling and repr ------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"state": self.state, "seed_seq": self._seed_seq}

    def __setstate__(self, d: dict[str, Any]) -> None:
        # A pickle is input: every entry is checked (by the state setter for the state),
        # and a tampered one is refused with what was wrong, never a bare KeyError.
        if not isinstance(d, dict):
            raise TypeError(f"Philox pickle state must be a dict, got {type(d).__name__}")
        for entry in ("state", "seed_seq"):
            if entry not in d:
                raise ValueError(f"Philox pickle state is missing the entry {entry!r}")
        seed_seq = d["seed_seq"]
        if seed_seq is not None and not isinstance(seed_seq, np.random.SeedSequence):
            raise TypeError("Philox pickle state: seed_seq must be None or a numpy.random.SeedSequence, "
                            f"got {type(seed_seq).__name__}")
        self.__init__(key=0)  # type: ignore[misc]
        self.state = d["state"]
        self._attach(self._state, self.lock, seed_seq)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore_philox, (self.__getstate__(),))

    def __repr__(self) -> str:
        st = self.state
        return (
            f"Philox(key={st['state']['key']:#x}, counter={st['state']['counter']:#x}, "
            f"buffer_pos={st['buffer_pos']})"
        )


def _restore_philox(d: dict[str, Any]) -> Philox:
    p = Philox.__new__(Philox)
    p.__setstate__(d)
    return p


_MAX_DIM = np.iinfo(np.intp).max
_MAX_NDIM = 64  # NumPy's limit on an array's dimensions (NPY_MAXDIMS)


def _normalize_size(size: Any) -> tuple[int, ...]:
    """Turn an int or a sequence of ints into a shape tuple, as NumPy does."""
    dims: tuple[int, ...]
    if isinstance(size, bool | np.bool_):
        raise TypeError(f"size must be None, an int or a tuple of ints, got {size!r}")
    try:
        dims = (operator.index(size),)
    except TypeError:
        if not isinstance(size, Sequence | np.ndarray) or isinstance(size, str | bytes):
            raise TypeError(f"size must be None, an int or a tuple of ints, got {size!r}") from None
        try:
            if any(isinstance(d, bool | np.bool_) for d in size):
                raise TypeError
            dims = tuple(operator.index(d) for d in size)
        except TypeError:
            raise TypeError(
                f"size must be None, an int or a tuple of ints, got {size!r}"
            ) from None
    if len(dims) > _MAX_NDIM:
        raise ValueError(f"size must have at most {_MAX_NDIM} dimensions, got {len(dims)}")
    for d in dims:
        if d < 0:
            raise ValueError(f"negative dimensions are not allowed, got size {size!r}")
        if d > _MAX_DIM:
            raise ValueError(f"Maximum allowed dimension exceeded: size {size!r}")
    if math.prod(dims) > _MAX_DIM // 8:  # beyond any array of 8-byte values
        raise ValueError(f"size {size!r} is too big: {math.prod(dims)} values exceed the "
                         "largest possible array")
    return dims
