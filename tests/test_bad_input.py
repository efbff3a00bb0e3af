"""Bad input to every public function: a clear error, never a crash, nothing half-written.

Each row of the table below is one call with one bad argument (wrong type, shape,
dtype, value, size, `out` array, Noise handle, ...). It must raise one of the listed
exception types (subclasses count: NumPy's MemoryError subclass is a MemoryError) with a
message that names the argument, must not leak the private core (a pybind11
"incompatible function arguments" text), must leave a sentinel-filled `out` untouched and
must not move the generator's stream. A few rows are inputs with a documented result
(NaN propagation, empty and 0-d arrays, an `out` that overlaps an input): those may
succeed, and then their result is checked instead.

Calls run in subprocesses so that a crash fails a test instead of the run: all rows of
one group (one function) run in one subprocess that prints one JSON line per row as it
goes; if that subprocess dies, every row without a line is re-run alone so that the
failure names the row that crashed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import asdict, dataclass
from typing import Any

import pytest

GROUP_TIMEOUT = 240.0  # seconds for one group's subprocess (ASan runs are slower)


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    call: str  # a Python expression, evaluated after `setup`
    exc: tuple[str, ...]  # accepted exception classes (by name, subclasses count)
    names: tuple[str, ...]  # the message must name one of these
    setup: str = ""
    out: str | None = None  # a variable whose bytes must be unchanged after the call
    rng: str | None = None  # a Generator or Philox whose state must be unchanged
    ok: str | None = None  # success is allowed when this expression (of `result`) holds

    @property
    def id(self) -> str:
        return f"{self.group}:{self.name}"


# Runs in the subprocess: the prelude, then one JSON line per case.
PRELUDE = """
import math, warnings
import numpy as np
import reparam
from reparam import Generator, Noise, Normal, Philox, default_rng, estimate_grad, reparameterize
F8, F4 = np.dtype(np.float64), np.dtype(np.float32)

def sentinel(shape, dtype=np.float64, order="C"):
    return np.full(shape, 7, dtype=dtype, order=order)

def readonly(a):
    a.setflags(write=False)
    return a

def misaligned(shape, dtype):
    dt = np.dtype(dtype)
    buf = np.full(math.prod(shape) * dt.itemsize + 1, 7, np.uint8)
    return buf, buf[1:].view(dt).reshape(shape)

def fn_pw(z):
    return (z * z).sum(), 2 * z

def fn_score(z):
    return (z * z).reshape(z.shape[0], -1).sum(axis=1)
"""

RUNNER = """
import json, sys, warnings
import numpy as np
cases = json.loads(sys.stdin.read())
prelude = cases.pop(0)
for c in cases:
    rec = {"id": c["id"]}
    ns = {}
    try:
        exec(prelude, ns)
        exec(c["setup"], ns)
    except BaseException as e:
        rec["setup_error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(rec), flush=True)
        continue
    def snapshot():
        o = ns[c["out"]] if c["out"] else None
        r = ns[c["rng"]] if c["rng"] else None
        if r is not None and hasattr(r, "bit_generator"):
            r = r.bit_generator
        return (None if o is None else np.array(o, copy=True).tobytes(),
                None if r is None else repr(r.state))
    before = snapshot()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as the suite's filterwarnings = ["error"]
        try:
            ns["result"] = eval(c["call"], ns)
            rec["exc"] = None
            rec["result"] = repr(ns["result"])[:200]
            if c["ok"]:
                try:
                    rec["ok"] = bool(eval(c["ok"], ns))
                except Exception as e:
                    rec["ok"] = False
                    rec["ok_error"] = f"{type(e).__name__}: {e}"
        except Exception as e:
            rec["exc"] = type(e).__name__
            rec["mro"] = [k.__name__ for k in type(e).__mro__]
            rec["msg"] = str(e)
    after = snapshot()
    rec["out_changed"] = before[0] != after[0]
    rec["state_changed"] = before[1] != after[1]
    print(json.dumps(rec), flush=True)
"""

CASES: list[Case] = []


def case(group: str, name: str, call: str, exc: str | tuple[str, ...], names: str | tuple[str, ...] = (),
         *, setup: str = "", out: str | None = None, rng: str | None = None, ok: str | None = None) -> None:
    exc_t = (exc,) if isinstance(exc, str) else tuple(exc)
    names_t = (names,) if isinstance(names, str) else tuple(names)
    c = Case(group, name, call, exc_t, names_t, textwrap.dedent(setup), out, rng, ok)
    assert c.id not in {x.id for x in CASES}, c.id
    CASES.append(c)


TE, VE, ME = "TypeError", "ValueError", "MemoryError"
OUT_NAMES = ("out", "output array")
DTYPE_NAMES = ("dtype", "data type")
SIZE_NAMES = ("size",)

# -- sizes: wrong types, negative and overflowing dimensions ---------------------------
BAD_SIZES: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    # (id, expression, exception types, names)
    ("str", "'3'", (TE,), SIZE_NAMES),
    ("float", "2.5", (TE,), SIZE_NAMES),
    ("float-integral", "4.0", (TE,), SIZE_NAMES),
    ("complex", "3j", (TE,), SIZE_NAMES),
    ("bool", "True", (TE,), SIZE_NAMES),
    ("none-in-tuple", "(3, None)", (TE,), SIZE_NAMES),
    ("float-in-tuple", "(2, 1.5)", (TE,), SIZE_NAMES),
    ("ragged-list", "[[1, 2], [3]]", (TE,), SIZE_NAMES),
    ("nested-list", "[[2]]", (TE,), SIZE_NAMES),
    ("object", "object()", (TE,), SIZE_NAMES),
    ("dict", "{}", (TE,), SIZE_NAMES),
    ("negative", "-1", (VE,), SIZE_NAMES),
    ("negative-np", "np.int8(-3)", (VE,), SIZE_NAMES),
    ("negative-in-tuple", "(2, -1)", (VE,), SIZE_NAMES),
    ("dim-2**63", "2**63", (VE, ME), SIZE_NAMES),
    ("dim-2**64", "2**64", (VE, ME), SIZE_NAMES),
    ("dim-huge", "10**30", (VE, ME), SIZE_NAMES),
    ("product-2**64", "(2**32, 2**32)", (VE, ME), SIZE_NAMES),
    ("product-beyond-2**63", "(2**31, 2**31, 4)", (VE, ME), SIZE_NAMES),
    ("product-2**63-bytes", "(2**62,)", (VE, ME), SIZE_NAMES),
    ("unallocatable-4TiB", "(2**40,)", (VE, ME), (*SIZE_NAMES, "shape")),
]

BAD_DTYPES: list[tuple[str, str, str]] = [
    ("int32", "np.int32", TE),
    ("int", "int", TE),
    ("float16", "np.float16", TE),
    ("longdouble", "np.longdouble", TE),
    ("complex128", "np.complex128", TE),
    ("object", "object", TE),
    ("bool", "bool", TE),
    ("str-unknown", "'foo'", TE),
    ("byteswapped-f8", "F8.newbyteorder()", TE),
    ("byteswapped-f4", "F4.newbyteorder()", TE),
    ("structured", "[('a', 'f8')]", TE),
    ("list", "[1]", TE),
]


def _out_variants(shape: str, dt: str) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """(id, setup, watched variable, out expression, exception types) for `out` arrays
    that must be refused; the setup fills them with a sentinel."""
    other = f"F4 if np.dtype({dt}) == F8 else F8"
    return [
        ("list", "o = [7.0] * 6", "o", "o", (TE,)),
        ("tuple", "o = (7.0,) * 6", "o", "o", (TE,)),
        ("memoryview", f"base = sentinel({shape}, {dt}); o = memoryview(base)", "base", "o", (TE,)),
        ("readonly", f"o = readonly(sentinel({shape}, {dt}))", "o", "o", (VE,)),
        ("non-contiguous", f"base = sentinel({shape}[:-1] + ({shape}[-1] * 2,), {dt}); o = base[..., ::2]",
         "base", "o", (VE,)),
        ("reversed", f"base = sentinel({shape}, {dt}); o = base[..., ::-1]", "base", "o", (VE,)),
        ("misaligned", f"base, o = misaligned({shape}, {dt})", "base", "o", (VE,)),
        ("byteswapped", f"o = sentinel({shape}, np.dtype({dt}).newbyteorder())", "o", "o", (TE, VE)),
        ("other-float", f"o = sentinel({shape}, {other})", "o", "o", (TE,)),
        ("int64", f"o = sentinel({shape}, np.int64)", "o", "o", (TE,)),
        ("float16", f"o = sentinel({shape}, np.float16)", "o", "o", (TE,)),
        ("complex", f"o = sentinel({shape}, np.complex128)", "o", "o", (TE,)),
        ("object", f"o = sentinel({shape}, object)", "o", "o", (TE,)),
        ("wrong-shape", f"o = sentinel({shape} + (2,), {dt})", "o", "o", (VE,)),
        ("too-small", f"o = sentinel(({shape}[0] - 1,) + {shape}[1:], {dt})", "o", "o", (VE,)),
    ]


SHAPE_VARIANTS = ("wrong-shape", "too-small")

# -- Generator.standard_normal and Generator.random ------------------------------------
for meth in ("standard_normal", "random"):
    grp = f"Generator.{meth}"
    for sid, expr, exc, names in BAD_SIZES:
        case(grp, f"size={sid}", f"g.{meth}({expr})", exc, names, setup="g = default_rng(0)", rng="g")
        case(grp, f"size={sid}-f32", f"g.{meth}({expr}, dtype=np.float32)", exc, names,
             setup="g = default_rng(0)", rng="g")
    for did, expr, exc in BAD_DTYPES:
        case(grp, f"dtype={did}", f"g.{meth}(3, dtype={expr})", exc, DTYPE_NAMES,
             setup="g = default_rng(0)", rng="g")
        case(grp, f"dtype={did}-no-size", f"g.{meth}(dtype={expr})", exc, DTYPE_NAMES,
             setup="g = default_rng(0)", rng="g")
    for dt in ("F8", "F4"):
        for oid, setup, watched, oexpr, exc in _out_variants("(2, 3)", dt):
            # without size, out's shape is the shape: only the size-given form can mismatch
            size = "(2, 3), " if oid in SHAPE_VARIANTS else ""
            case(grp, f"out={oid}-{dt}", f"g.{meth}({size}dtype={dt}, out={oexpr})", exc, OUT_NAMES,
                 setup=f"g = default_rng(0)\n{setup}", out=watched, rng="g")
        case(grp, f"out-size-mismatch-{dt}", f"g.{meth}((3, 2), dtype={dt}, out=o)", VE, SIZE_NAMES + OUT_NAMES,
             setup=f"g = default_rng(0)\no = sentinel((2, 3), {dt})", out="o", rng="g")
        case(grp, f"out-and-bad-size-{dt}", f"g.{meth}(-1, dtype={dt}, out=o)", VE, SIZE_NAMES + OUT_NAMES,
             setup=f"g = default_rng(0)\no = sentinel((2, 3), {dt})", out="o", rng="g")
    # documented, valid corner cases: empty, 0-d, Fortran order
    G0 = "g = default_rng(0)\n"
    case(grp, "size=0", f"g.{meth}(0)", (), setup=G0, ok="result.shape == (0,)")
    case(grp, "size=(2,0,3)", f"g.{meth}((2, 0, 3))", (), setup=G0, ok="result.shape == (2, 0, 3)")
    case(grp, "size=()", f"g.{meth}(())", (), setup=G0, ok="np.shape(result) == ()")
    case(grp, "size=0-d-array", f"g.{meth}(np.array(3))", (), setup=G0, ok="result.shape == (3,)")
    case(grp, "out=0-d", f"g.{meth}(out=o)", (), setup=G0 + "o = sentinel(())", ok="result is o and o != 7")
    case(grp, "out=empty", f"g.{meth}(out=o)", (), setup=G0 + "o = sentinel((0, 3))", ok="result is o")
    case(grp, "out=fortran", f"g.{meth}(out=o)", (), setup=G0 + "o = sentinel((3, 4), order='F')",
         ok="result is o and np.isfinite(o).all() and (o != 7).all()")

# -- Generator.normal -------------------------------------------------------------------
grp = "Generator.normal"
G = "g = default_rng(0)\n"
for arg, pos in (("loc", "g.normal({v}, 1.0)"), ("scale", "g.normal(0.0, {v})")):
    for vid, v, exc in [
        ("str", "'a'", (TE, VE)),
        ("numeric-str", "'1'", (TE,)),
        ("bytes", "b'1'", (TE,)),
        ("None", "None", (TE,)),
        ("dict", "{}", (TE,)),
        ("object", "object()", (TE,)),
        ("complex", "1j", (TE,)),
        ("complex-array", "np.array([1j])", (TE,)),
        ("object-array", "np.array([1, 'a'], dtype=object)", (TE,)),
        ("str-array", "np.array(['1'])", (TE,)),
        ("list-of-str", "['a', 'b']", (TE, VE)),
        ("ragged", "[[1.0, 2.0], [3.0]]", (VE,)),
        ("datetime", "np.array(['2020'], 'M8[D]')", (TE,)),
    ]:
        case(grp, f"{arg}={vid}", pos.format(v=v), exc, (arg,), setup=G, rng="g")
        case(grp, f"{arg}={vid}-out", pos.format(v=v)[:-1] + ", out=o)", exc, (arg,),
             setup=G + "o = sentinel(3)", out="o", rng="g")
for vid, v in [("-1", "-1.0"), ("-0.0", "-0.0"), ("-inf", "-np.inf"), ("array-one-negative", "[1.0, -1.0, 1.0]")]:
    case(grp, f"scale={vid}", f"g.normal(0.0, {v})", VE, ("scale",), setup=G, rng="g")
    case(grp, f"scale={vid}-out", f"g.normal(0.0, {v}, out=o)", VE, ("scale",), setup=G + "o = sentinel(3)",
         out="o", rng="g")
case(grp, "broadcast-loc-scale", "g.normal(np.zeros(3), np.ones(4))", VE, ("loc", "scale"), setup=G, rng="g")
case(grp, "broadcast-size", "g.normal(np.zeros(3), 1.0, size=4)", VE, ("size", "loc"), setup=G, rng="g")
case(grp, "broadcast-size-2d", "g.normal(np.zeros((2, 3)), 1.0, size=(3,))", VE, ("size", "loc"), setup=G, rng="g")
case(grp, "broadcast-out", "g.normal(np.zeros(4), 1.0, out=o)", VE, ("out", "loc"), setup=G + "o = sentinel((2, 3))",
     out="o", rng="g")
case(grp, "broadcast-out-smaller", "g.normal(np.zeros((3, 3)), 1.0, out=o)", VE, ("out", "loc"),
     setup=G + "o = sentinel(3)", out="o", rng="g")
case(grp, "size-and-out-disagree", "g.normal(0.0, 1.0, size=(3, 2), out=o)", VE, SIZE_NAMES + OUT_NAMES,
     setup=G + "o = sentinel((2, 3))", out="o", rng="g")
for sid, expr, exc, names in BAD_SIZES:
    case(grp, f"size={sid}", f"g.normal(0.0, 1.0, {expr})", exc, names, setup=G, rng="g")
for did, expr, exc in BAD_DTYPES:
    case(grp, f"dtype={did}", f"g.normal(0.0, 1.0, 3, dtype={expr})", exc, DTYPE_NAMES, setup=G, rng="g")
for dt in ("F8", "F4"):
    for oid, setup, watched, oexpr, exc in _out_variants("(2, 3)", dt):
        size = "(2, 3), " if oid in SHAPE_VARIANTS else ""
        case(grp, f"out={oid}-{dt}", f"g.normal(0.0, 1.0, {size}dtype={dt}, out={oexpr})", exc, OUT_NAMES,
             setup=G + setup, out=watched, rng="g")
# documented results: NaN and inf propagate as in NumPy; empty and 0-d inputs
case(grp, "loc=nan", "g.normal(np.nan, 1.0, 3)", (VE,), ("loc",), setup=G, ok="np.isnan(result).all()")
case(grp, "loc=inf", "g.normal(np.inf, 1.0, 3)", (VE,), ("loc",), setup=G, ok="(result == np.inf).all()")
case(grp, "scale=nan", "g.normal(0.0, [1.0, np.nan], 2)", (VE,), ("scale",), setup=G,
     ok="np.isfinite(result[0]) and np.isnan(result[1])")
case(grp, "scale=inf", "g.normal(0.0, np.inf, 3)", (VE,), ("scale",), setup=G, ok="np.isinf(result).all()")
case(grp, "loc=empty", "g.normal(np.zeros(0), 1.0)", (), setup=G, ok="result.shape == (0,)")
case(grp, "loc=empty-2d", "g.normal(np.zeros((2, 0)), np.ones((1, 0)))", (), setup=G, ok="result.shape == (2, 0)")
case(grp, "loc=0-d-array", "g.normal(np.array(1.0), np.array(2.0))", (), setup=G,
     ok="isinstance(result, float) and math.isfinite(result)")
case(grp, "int8-loc", "g.normal(np.array([1], np.int8), 1.0)", (), setup=G, ok="result.dtype == F8")
# `out` that is also an input: either refused, or the values of the same call without
# overlap (the inputs are read before they are overwritten).
for dt in ("F8", "F4"):
    case(grp, f"out-overlaps-loc-{dt}", f"default_rng(5).normal(a, 2.0, dtype={dt}, out=a)", (VE,),
         (*OUT_NAMES, "loc"),
         setup=f"a = np.linspace(-3, 3, 6).astype({dt})\nref = default_rng(5).normal(a.copy(), 2.0, dtype={dt})",
         ok="np.array_equal(result, ref)")
    case(grp, f"out-overlaps-scale-{dt}", f"default_rng(5).normal(1.0, a, dtype={dt}, out=a)", (VE,),
         (*OUT_NAMES, "scale"),
         setup=f"a = np.linspace(0.5, 3, 6).astype({dt})\nref = default_rng(5).normal(1.0, a.copy(), dtype={dt})",
         ok="np.array_equal(result, ref)")
    case(grp, f"out-overlaps-loc-view-{dt}", f"default_rng(5).normal(a[0], 1.0, dtype={dt}, out=a)", (VE,),
         (*OUT_NAMES, "loc"),
         setup=(f"a = np.arange(12, dtype={dt}).reshape(4, 3)\n"
                f"ref = default_rng(5).normal(a[0].copy(), 1.0, size=(4, 3), dtype={dt})"),
         ok="np.array_equal(result, ref)")

# -- Philox ----------------------------------------------------------------------------
grp = "Philox"
for vid, v, exc in [("str", "'a'", (TE,)), ("float", "1.5", (TE,)), ("negative", "-1", (VE,)),
                    ("float-array", "np.array([1.5])", (TE,)), ("complex", "1j", (TE,)),
                    ("Generator", "np.random.default_rng()", (TE,)), ("BitGenerator", "np.random.PCG64()", (TE,)),
                    ("dict", "{}", (TE,)), ("object", "object()", (TE,)),
                    ("negative-in-list", "[1, -2]", (VE,))]:
    case(grp, f"seed={vid}", f"Philox({v})", exc, ("seed",))
    case("default_rng", f"seed={vid}", f"default_rng({v})", exc, ("seed",))
for arg in ("key", "counter"):
    top = "2**64" if arg == "key" else "2**128"
    for vid, v, exc in [("str", "'1'", TE), ("float", "1.0", TE), ("None-is-default", None, None),
                        ("negative", "-1", VE), ("too-big", top, VE), ("huge", "2**300", VE),
                        ("array", "np.array([1, 2])", TE), ("complex", "1j", TE)]:
        if v is None:
            continue
        case(grp, f"{arg}={vid}", f"Philox({arg}={v})", exc, (arg,))
case(grp, "seed-and-key", "Philox(1, key=2)", VE, ("seed", "key"))
case(grp, "unknown-kw", "Philox(sed=1)", TE, ("sed",))
P = "p = Philox(key=7, counter=5)\n"
for meth, arg in (("advance", "delta"), ("jumped", "jumps")):
    for vid, v, exc in [("negative", "-1", VE), ("float", "1.5", TE), ("float-integral", "2.0", TE),
                        ("str", "'1'", TE), ("None", "None", TE), ("array", "np.array([1, 2])", TE),
                        ("complex", "1j", TE)]:
        case(grp, f"{meth}({vid})", f"p.{meth}({v})", exc, (arg,), setup=P, rng="p")
for vid, v, exc in [("negative", "-1", VE), ("float", "1.5", TE), ("str", "'a'", TE), ("None", "None", TE)]:
    case(grp, f"spawn({vid})", f"Philox(3).spawn({v})", exc, ("n_children",))
case(grp, "spawn-from-key", "Philox(key=3).spawn(1)", TE, ("seed", "SeedSequence"))
for sid, expr, exc, names in BAD_SIZES:
    case(grp, f"random_raw(size={sid})", f"p.random_raw({expr})", exc, names, setup=P, rng="p")
ST = "{'bit_generator': 'Philox', 'state': {'key': 1, 'counter': 0}, 'buffer_pos': 0}"
for vid, v, exc, names in [
    ("None", "None", TE, ("state",)),
    ("list", "[1, 2]", TE, ("state",)),
    ("empty-dict", "{}", VE, ("state", "bit_generator")),
    ("other-bit-generator", "np.random.PCG64().state", VE, ("state", "bit_generator", "Philox")),
    ("missing-state", "{'bit_generator': 'Philox'}", VE, ("state",)),
    ("state-None", "{'bit_generator': 'Philox', 'state': None}", (TE, VE), ("state",)),
    ("state-list", "{'bit_generator': 'Philox', 'state': [1, 2]}", (TE, VE), ("state",)),
    ("missing-key", "{'bit_generator': 'Philox', 'state': {'counter': 0}}", VE, ("key",)),
    ("key-str", ST.replace("'key': 1", "'key': 'a'"), TE, ("key",)),
    ("key-float", ST.replace("'key': 1", "'key': 1.0"), TE, ("key",)),
    ("key-negative", ST.replace("'key': 1", "'key': -1"), VE, ("key",)),
    ("key-2**64", ST.replace("'key': 1", "'key': 2**64"), VE, ("key",)),
    ("counter-2**128", ST.replace("'counter': 0", "'counter': 2**128"), VE, ("counter",)),
    ("counter-negative", ST.replace("'counter': 0", "'counter': -5"), VE, ("counter",)),
    ("counter-None", ST.replace("'counter': 0", "'counter': None"), TE, ("counter",)),
    ("buffer_pos-4", ST.replace("'buffer_pos': 0", "'buffer_pos': 4"), VE, ("buffer_pos",)),
    ("buffer_pos-negative", ST.replace("'buffer_pos': 0", "'buffer_pos': -1"), VE, ("buffer_pos",)),
    ("buffer_pos-str", ST.replace("'buffer_pos': 0", "'buffer_pos': '1'"), TE, ("buffer_pos",)),
]:
    case(grp, f"state={vid}", f"setattr(p, 'state', {v})", exc, names, setup=P, rng="p")
case("default_rng", "Generator(None)", "Generator(None)", TE, ("bit_generator",))
case("default_rng", "Generator(PCG64)", "Generator(np.random.PCG64())", TE, ("bit_generator",))
case("default_rng", "Generator(str)", "Generator('philox')", TE, ("bit_generator",))
case("default_rng", "Generator(Generator)", "Generator(default_rng(1))", TE, ("bit_generator",))

# -- set_num_threads -------------------------------------------------------------------
grp = "set_num_threads"
for vid, v, exc in [("0", "0", VE), ("negative", "-1", VE), ("float", "1.5", TE), ("float-integral", "2.0", TE),
                    ("str", "'2'", TE), ("None", "None", TE), ("bool", "True", TE), ("2**31", "2**31", VE),
                    ("2**64", "2**64", VE), ("array", "np.array([2])", TE)]:
    case(grp, vid, f"reparam.set_num_threads({v})", exc, ("n",),
         setup="before = reparam.get_num_threads()", ok=None)
# More threads than the system can start: refused cleanly, and the pool keeps its size.
HUGE = """
import os
def os_threads():
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 0
def set_huge(n):
    before, threads = reparam.get_num_threads(), os_threads()
    try:
        reparam.set_num_threads(n)
    except Exception as exc:
        after, threads_after = reparam.get_num_threads(), os_threads()
        if after != before or threads_after != threads:
            raise AssertionError(
                f"after {type(exc).__name__}({exc}) the pool reports {after} threads (was {before}) "
                f"and the process runs {threads_after} OS threads (was {threads})") from None
        raise
    return reparam.get_num_threads()
"""
for vid, v in [("2**31-1", "2**31 - 1")]:
    case(f"set_num_threads-huge-{vid}", vid, f"set_huge({v})", (VE, ME), ("n",), setup=HUGE)

# -- Normal(...) -------------------------------------------------------------------------
grp = "Normal"
PARAMS = ("scale", "var", "logvar", "logstd", "softplus")
for arg, tmpl in [("loc", "Normal({v}, scale=1.0)")] + [(p, f"Normal(0.0, {p}={{v}})") for p in PARAMS]:
    for vid, v, exc in [
        ("str", "'a'", TE), ("numeric-str", "'1'", TE), ("bytes", "b'1'", TE), ("dict", "{}", TE),
        ("object", "object()", TE), ("complex", "1j", TE), ("complex-array", "np.ones(3, complex)", TE),
        ("object-array", "np.array([1.0, 'a'], dtype=object)", TE),
        ("object-array-numbers", "np.array([1.0, 2.0], dtype=object)", TE),
        ("str-array", "np.array(['1'])", TE), ("ragged", "[[1.0, 2.0], [3.0]]", VE),
        ("datetime", "np.array(['2020'], 'M8[D]')", TE), ("timedelta", "np.array([1], 'm8[s]')", TE),
    ]:
        if arg == "loc" and vid == "None":
            continue
        case(grp, f"{arg}={vid}", tmpl.format(v=v), exc, (arg,))
case(grp, "loc=None", "Normal(None, scale=1.0)", TE, ("loc",))
for p in ("scale", "var"):
    for vid, v in [("-1", "-1.0"), ("-inf", "-np.inf"), ("array-one-negative", "[1.0, -2.0, 3.0]"),
                   ("float32-negative", "np.array([-1.0], np.float32)"), ("-tiny", "-5e-324")]:
        case(grp, f"{p}={vid}", f"Normal(0.0, {p}={v})", VE, (p,))
case(grp, "no-parameter", "Normal(0.0)", VE, PARAMS)
case(grp, "two-parameters", "Normal(0.0, scale=1.0, logvar=0.0)", VE, PARAMS)
case(grp, "unknown-parameter", "Normal(0.0, sigma=1.0)", TE, ("sigma",))
case(grp, "broadcast", "Normal(np.zeros(3), scale=np.ones(4))", VE, ("loc", "scale"))
case(grp, "broadcast-2d", "Normal(np.zeros((2, 3)), logvar=np.zeros((3, 2)))", VE, ("loc", "logvar"))
# documented: NaN and inf propagate into samples and closed forms; empty and 0-d work
for p, v, check in [("loc", "np.nan", "np.isnan"), ("scale", "np.nan", "np.isnan"), ("logvar", "np.nan", "np.isnan"),
                    ("softplus", "np.nan", "np.isnan"), ("var", "np.inf", "np.isinf"),
                    ("logstd", "np.inf", "np.isinf"), ("loc", "np.inf", "np.isinf")]:
    ctor = f"Normal({v}, scale=1.0)" if p == "loc" else f"Normal(0.0, {p}={v})"
    case(grp, f"{p}={v}-rsample", f"{ctor}.rsample(4, rng=0)", (VE,), (p,), ok=f"{check}(result).all()")
for dt in ("F8", "F4"):
    case(grp, f"empty-batch-{dt}", f"Normal(np.zeros((0, 3), {dt}), scale=np.ones(3, {dt})).rsample(2, rng=0)", (),
         ok=f"result.shape == (2, 0, 3) and result.dtype == {dt}")
    case(grp, f"0-d-{dt}", f"Normal(np.array(1.0, {dt}), logvar=np.array(0.0, {dt})).rsample(4, rng=0)", (),
         ok=f"result.shape == (4,) and result.dtype == {dt} and np.isfinite(result).all()")
    case(grp, f"0-d-properties-{dt}",
         f"[getattr(Normal(np.array(1.0, {dt}), scale=np.array(2.0, {dt})), k) for k in {PARAMS!r}]", (),
         ok="all(np.shape(v) == () for v in result)")

# -- rsample and reparameterize ---------------------------------------------------------
grp = "Normal.rsample"
Q = "g = default_rng(0)\nq = Normal(np.zeros(3), logvar=np.zeros(3))\n"
Q4 = "g = default_rng(0)\nq = Normal(np.zeros(3, np.float32), logvar=np.zeros(3, np.float32))\n"
for sid, expr, exc, names in BAD_SIZES:
    case(grp, f"size={sid}", f"q.rsample({expr}, rng=g)", exc, names, setup=Q, rng="g")
for vid, v, exc in [("str", "'a'", (TE,)), ("float", "1.5", (TE,)), ("negative", "-1", (VE,)),
                    ("numpy-Generator", "np.random.default_rng(0)", (TE,)),
                    ("BitGenerator", "np.random.PCG64(0)", (TE,)), ("object", "object()", (TE,))]:
    case(grp, f"rng={vid}", f"q.rsample(2, rng={v})", exc, ("rng", "seed"), setup=Q)
for n, shape in (("3", "(3, 3)"), ("(1, 4)", "(1, 4, 3)"), ("None", "(3,)"), ("(3, 2)", "(3, 2, 3)")):
    case(grp, f"antithetic-odd-{n}", f"q.rsample({n}, rng=g, antithetic=True)", VE, ("antithetic",),
         setup=Q, rng="g")
    case(grp, f"antithetic-odd-{n}-out", f"q.rsample({n}, rng=g, antithetic=True, out=o)", VE, ("antithetic",),
         setup=Q + f"o = sentinel({shape})", out="o", rng="g")
for qset, dt, tag in ((Q, "F8", "f8"), (Q4, "F4", "f4")):
    for oid, setup, watched, oexpr, exc in _out_variants("(2, 3)", dt):
        case(grp, f"out={oid}-{tag}", f"q.rsample(2, rng=g, out={oexpr})", exc, OUT_NAMES,
             setup=qset + setup, out=watched, rng="g")
    case(grp, f"out=fortran-{tag}", "q.rsample(2, rng=g, out=o)", VE, OUT_NAMES,
         setup=qset + f"o = sentinel((2, 3), {dt}, order='F')", out="o", rng="g")
    case(grp, f"out=transposed-shape-{tag}", "q.rsample(2, rng=g, out=o)", VE, OUT_NAMES,
         setup=qset + f"o = sentinel((3, 2), {dt})", out="o", rng="g")
    case(grp, f"out-and-antithetic-odd-{tag}", "q.rsample(3, rng=g, antithetic=True, out=o)", VE, ("antithetic",),
         setup=qset + f"o = sentinel((3, 3), {dt})", out="o", rng="g")
    case(grp, f"out-and-bad-size-{tag}", "q.rsample(-2, rng=g, out=o)", VE, SIZE_NAMES,
         setup=qset + f"o = sentinel((2, 3), {dt})", out="o", rng="g")
# `out` that is the distribution's own loc or parameter array
case(grp, "out-is-loc", "q.rsample(rng=5, out=loc)", (VE,), (*OUT_NAMES, "loc"),
     setup=("loc = np.linspace(-1, 1, 6)\nq = Normal(loc, scale=2.0)\n"
            "ref = Normal(loc.copy(), scale=2.0).rsample(rng=5)"),
     ok="np.array_equal(result, ref)")
case(grp, "out-is-param", "q.rsample(rng=5, out=s)", (VE,), (*OUT_NAMES, "scale"),
     setup=("s = np.linspace(0.5, 2, 6)\nq = Normal(1.0, scale=s)\n"
            "ref = Normal(1.0, scale=s.copy()).rsample(rng=5)"),
     ok="np.array_equal(result, ref)")
case(grp, "out-row-is-loc", "q.rsample(4, rng=5, out=big)", (VE,), (*OUT_NAMES, "loc"),
     setup=("big = np.zeros((4, 2000)); big[0] = np.arange(2000.0)\nq = Normal(big[0], scale=1.0)\n"
            "ref = Normal(big[0].copy(), scale=1.0).rsample(4, rng=5)"),
     ok="np.array_equal(result, ref)")

grp = "reparameterize"
R = "g = default_rng(0)\nm = np.zeros(3); v = np.zeros(3)\n"
for vid, v, exc in [("unknown", "'sigma'", VE), ("None", "None", (TE, VE)), ("list", "['logvar']", (TE, VE)),
                    ("int", "1", (TE, VE)), ("upper", "'LOGVAR'", VE)]:
    case(grp, f"param={vid}", f"reparameterize(m, v, {v}, rng=g)", exc, ("param",), setup=R, rng="g")
case(grp, "value=None", "reparameterize(m, None, 'logvar', rng=g)", (TE, VE), ("value", "logvar"), setup=R, rng="g")
case(grp, "loc=None", "reparameterize(None, v, 'logvar', rng=g)", TE, ("loc",), setup=R, rng="g")
case(grp, "value=str", "reparameterize(m, 'a', 'logvar', rng=g)", TE, ("value", "logvar"), setup=R, rng="g")
case(grp, "broadcast", "reparameterize(m, np.zeros(4), 'logvar', rng=g)", VE, ("loc", "logvar", "value"),
     setup=R, rng="g")
case(grp, "scale-negative", "reparameterize(m, -np.ones(3), 'scale', rng=g)", VE, ("scale", "value"), setup=R,
     rng="g")
for sid, expr, exc, names in BAD_SIZES[::3]:
    case(grp, f"size={sid}", f"reparameterize(m, v, 'logvar', {expr}, rng=g)", exc, names, setup=R, rng="g")
for oid, setup, watched, oexpr, exc in _out_variants("(2, 3)", "F8")[::2]:
    case(grp, f"out={oid}", f"reparameterize(m, v, 'logvar', 2, rng=g, out={oexpr})", exc, OUT_NAMES,
         setup=R + setup, out=watched, rng="g")

# -- closed forms --------------------------------------------------------------------------
grp = "closed-forms"
C = "q = Normal(np.zeros(3), scale=np.ones(3))\n"
for vid, v, exc in [("str", "'a'", TE), ("None", "None", TE), ("object-array", "np.array([1, 2], object)", TE),
                    ("complex", "np.array([1j])", TE), ("ragged", "[[1.0, 2.0], [3.0]]", VE),
                    ("datetime", "np.array(['2020'], 'M8[D]')", TE)]:
    case(grp, f"log_prob(z={vid})", f"q.log_prob({v})", exc, ("z",), setup=C)
case(grp, "log_prob-broadcast", "q.log_prob(np.zeros(4))", VE, ("z",), setup=C)
case(grp, "log_prob-broadcast-2d", "q.log_prob(np.zeros((2, 4)))", VE, ("z",), setup=C)
for m in ("log_prob(0.0, grad={v})", "entropy(grad={v})", "kl_standard_normal(grad={v})",
          "kl(q, grad={v})"):
    for vid, v in [("str", "'yes'"), ("array", "np.array([1, 0])")]:
        case(grp, f"{m.split('(')[0]}(grad={vid})", "q." + m.format(v=v), (TE, VE), ("grad",), setup=C)
for vid, v in [("int", "3"), ("None", "None"), ("numpy-array", "np.zeros(3)"), ("str", "'normal'"),
               ("scipy-like", "type('N', (), {'loc': 0, 'scale': 1})()")]:
    case(grp, f"kl(other={vid})", f"q.kl({v})", TE, ("other",), setup=C)
case(grp, "kl-broadcast", "q.kl(Normal(np.zeros(4), scale=1.0))", VE, ("other",), setup=C)
case(grp, "entropy-positional", "q.entropy(True)", TE, ("entropy", "positional"), setup=C)
case(grp, "log_prob-nan", "q.log_prob(np.nan)", (), setup=C, ok="np.isnan(result).all()")
case(grp, "log_prob-inf", "q.log_prob(np.inf)", (), setup=C, ok="(result == -np.inf).all()")
case(grp, "log_prob-empty", "q.log_prob(np.zeros((0, 3)))", (), setup=C, ok="result.shape == (0, 3)")
case(grp, "kl-empty", "Normal(np.zeros(0), scale=1.0).kl(Normal(0.0, scale=1.0))", (), ok="result.shape == (0,)")
case(grp, "entropy-0-d", "Normal(0.0, logvar=np.array(0.0)).entropy()", (), ok="np.shape(result) == ()")

# -- gradients: pathwise_grad, score_grad, Noise, estimate_grad -----------------------------
grp = "gradients"
GR = ("g = default_rng(0)\nq = Normal(np.zeros(3), logvar=np.zeros(3))\n"
      "z, nz = q.rsample(4, rng=g, return_noise=True)\neps = np.asarray(nz)\ngz = np.ones((4, 3))\nf = np.ones(4)\n")
for vid, v, exc in [("str", "'a'", TE), ("None", "None", TE), ("object", "np.ones((4, 3), object)", TE),
                    ("complex", "np.ones((4, 3), complex)", TE), ("ragged", "[[1.0, 2.0], [3.0]]", VE),
                    ("wrong-batch", "np.ones((4, 2))", VE), ("extra-axis", "np.ones((4, 3, 1))", VE),
                    ("datetime", "np.ones((4, 3), 'M8[s]')", TE)]:
    case(grp, f"pathwise(grad_z={vid})", f"q.pathwise_grad({v}, nz)", exc, ("grad_z",), setup=GR)
for vid, v, exc in [("str", "'a'", TE), ("None", "None", TE), ("object", "np.ones(4, object)", TE),
                    ("complex", "np.ones(4, complex)", TE), ("ragged", "[[1.0, 2.0], [3.0]]", VE),
                    ("too-many-samples", "np.ones(5)", VE), ("not-a-prefix", "np.ones((4, 2))", VE),
                    ("0-d", "1.0", VE)]:
    case(grp, f"score(f_values={vid})", f"q.score_grad({v}, nz)", exc, ("f_values",), setup=GR)
for est, first in (("pathwise_grad", "gz"), ("score_grad", "f")):
    for vid, v, exc in [
        ("None", "None", (TE, VE)), ("str", "'abc'", (TE, VE)), ("object", "object()", (TE, VE)),
        ("int-array", "np.ones((4, 3), int)", (TE, VE)), ("object-array", "np.ones((4, 3), object)", (TE, VE)),
        ("complex-array", "np.ones((4, 3), complex)", (TE, VE)), ("wrong-shape-array", "np.ones((5, 3))", (VE,)),
        ("wrong-batch-array", "np.ones((4, 2))", (VE,)), ("float32-array", "eps.astype(np.float32)", (TE, VE)),
        ("float16-array", "eps.astype(np.float16)", (TE, VE)),
        ("Noise-wrong-shape", "q.rsample(5, rng=0, return_noise=True)[1]", (VE,)),
        ("Noise-wrong-dtype", "Normal(np.zeros(3, np.float32), scale=1.0).rsample(4, rng=0, return_noise=True)[1]",
         (TE, VE)),
        ("Noise-int-dtype", "Noise(nz.key, nz.counter, nz.start, (4, 3), np.int32, False)", (TE, VE)),
        ("Noise-negative-key", "Noise(-1, 0, 0, (4, 3), np.float64, False)", (TE, VE)),
        ("Noise-key-2**64", "Noise(2**64, 0, 0, (4, 3), np.float64, False)", (TE, VE)),
        ("Noise-counter-2**128", "Noise(1, 2**128, 0, (4, 3), np.float64, False)", (TE, VE)),
        ("Noise-negative-counter", "Noise(1, -1, 0, (4, 3), np.float64, False)", (TE, VE)),
        ("Noise-negative-start", "Noise(1, 0, -1, (4, 3), np.float64, False)", (TE, VE)),
        ("Noise-antithetic-odd", "Noise(1, 0, 0, (3, 3), np.float64, True)", (TE, VE)),
    ]:
        call = f"q.{est}({first}, {v})"
        if vid == "Noise-antithetic-odd":
            call = f"q.{est}({first}[:3], {v})" if est == "score_grad" else f"q.{est}(np.ones((3, 3)), {v})"
        # a sample-count mismatch between f_values and noise may name either
        names = ("noise", "f_values") if est == "score_grad" and "wrong-shape" in vid else ("noise",)
        case(grp, f"{est}(noise={vid})", call, exc, names, setup=GR)
    for vid, v in [("bad", "'max'"), ("None", "None"), ("list", "['mean']"), ("upper", "'MEAN'")]:
        case(grp, f"{est}(reduce={vid})", f"q.{est}({first}, nz, reduce={v})", VE, ("reduce",), setup=GR)
    case(grp, f"{est}(return_stats=str)", f"q.{est}({first}, nz, return_stats='x')", (TE, VE),
         ("return_stats",), setup=GR)
for vid, v, exc in [("bad-str", "'median'", VE), ("wrong-shape", "np.ones(3)", VE),
                    ("str-array", "np.array(['a'])", (TE, VE)),
                    ("object", "object()", TE), ("ragged", "[[1.0], [1.0, 2.0]]", VE), ("complex", "1j", TE),
                    ("dict", "{}", TE)]:
    case(grp, f"score(baseline={vid})", f"q.score_grad(f, nz, baseline={v})", exc, ("baseline",), setup=GR)
case(grp, "score(baseline=loo-1-sample)", "q.score_grad(np.ones(1), q.rsample(1, rng=0, return_noise=True)[1], "
     "baseline='loo')", VE, ("baseline", "loo"), setup=GR)
# Valid corners: no samples (mean over none: NaN or a ValueError), an empty batch.
Z0 = GR + "z0, nz0 = q.rsample(0, rng=0, return_noise=True)\n"
for est, first in (("pathwise_grad", "np.ones((0, 3))"), ("score_grad", "np.ones(0)")):
    for red in ("mean", "sum"):
        case(grp, f"{est}-zero-samples-{red}", f"q.{est}({first}, nz0, reduce={red!r})", (VE,),
             ("sample", "grad_z", "f_values", "noise"), setup=Z0,
             ok="result['loc'].shape == (3,) and result['logvar'].shape == (3,)")
E0 = "q = Normal(np.zeros(0), scale=np.ones(0))\nz0, nz0 = q.rsample(4, rng=0, return_noise=True)\n"
case(grp, "pathwise-empty-batch", "q.pathwise_grad(np.ones((4, 0)), nz0)", (), setup=E0,
     ok="result['loc'].shape == (0,)")
case(grp, "score-empty-batch-f(4,0)", "q.score_grad(np.ones((4, 0)), nz0)", (), setup=E0,
     ok="result['loc'].shape == (0,)")
case(grp, "score-empty-batch-f(4,)", "q.score_grad(np.ones(4), nz0)", (), setup=E0,
     ok="result['loc'].shape == (0,)")
# Noise handles regenerated with np.asarray
for vid, v in [("negative-key", "Noise(-1, 0, 0, (3,), np.float64, False)"),
               ("counter-2**128", "Noise(1, 2**128, 0, (3,), np.float64, False)"),
               ("negative-start", "Noise(1, 0, -1, (3,), np.float64, False)"),
               ("int-dtype", "Noise(1, 0, 0, (3,), np.int32, False)"),
               ("byteswapped", "Noise(1, 0, 0, (3,), '>f8', False)"),
               ("antithetic-odd", "Noise(1, 0, 0, (3,), np.float64, True)"),
               ("negative-shape", "Noise(1, 0, 0, (-3,), np.float64, False)"),
               ("huge-shape", "Noise(1, 0, 0, (2**32, 2**32), np.float64, False)"),
               ("bad-dtype", "Noise(1, 0, 0, (3,), 'foo', False)")]:
    case("Noise", vid, f"np.asarray({v})", (TE, VE, ME),
         ("noise", "key", "counter", "start", "shape", "dtype", "data type", "antithetic", "size"))
# estimate_grad: argument errors are found before any sample is drawn
grp = "estimate_grad"
EG = "g = default_rng(0)\nq = Normal(np.zeros(3), logvar=np.zeros(3))\n"
for vid, v in [("bad", "'magic'"), ("None", "None"), ("upper", "'PATHWISE'")]:
    case(grp, f"method={vid}", f"estimate_grad(fn_pw, q, 4, method={v}, rng=g)", VE, ("method",), setup=EG, rng="g")
case(grp, "baseline-with-pathwise", "estimate_grad(fn_pw, q, 4, baseline='mean', rng=g)", VE, ("baseline",),
     setup=EG, rng="g")
case(grp, "baseline-bad", "estimate_grad(fn_score, q, 4, method='score', baseline='median', rng=g)", VE,
     ("baseline",), setup=EG, rng="g")
for vid, v, exc in [("negative", "-1", VE), ("str", "'4'", TE), ("float", "4.0", TE), ("None", "None", (TE, VE)),
                    ("list-of-str", "['4']", TE)]:
    case(grp, f"n={vid}", f"estimate_grad(fn_pw, q, {v}, rng=g)", exc, ("n",), setup=EG, rng="g")
case(grp, "n=0", "estimate_grad(fn_pw, q, 0, rng=g)", (VE,), ("n",), setup=EG,
     ok="result['loc'].shape == (3,)")
case(grp, "antithetic-odd", "estimate_grad(fn_pw, q, 3, antithetic=True, rng=g)", VE, ("antithetic", "n"),
     setup=EG, rng="g")
for vid, v in [("str", "'q'"), ("None", "None"), ("numpy-array", "np.zeros(3)")]:
    case(grp, f"q={vid}", f"estimate_grad(fn_pw, {v}, 4, rng=g)", TE, ("q",), setup=EG, rng="g")
case(grp, "fn-not-callable", "estimate_grad(3, q, 4, rng=g)", TE, ("fn",), setup=EG, rng="g")
case(grp, "fn-returns-scalar", "estimate_grad(lambda z: 1.0, q, 4, rng=g)", TE, ("fn",), setup=EG)
case(grp, "fn-grad-wrong-shape", "estimate_grad(lambda z: (1.0, np.ones((4, 2))), q, 4, rng=g)", VE,
     ("grad_z", "df/dz", "fn"), setup=EG)
case(grp, "fn-values-wrong-shape", "estimate_grad(lambda z: np.ones(7), q, 4, method='score', rng=g)", VE,
     ("f_values", "fn"), setup=EG)
case(grp, "rng=numpy-Generator", "estimate_grad(fn_pw, q, 4, rng=np.random.default_rng(0))", TE, ("rng", "seed"),
     setup=EG)


# ----------------------------------------------------------------------------- machinery
LEAKS = ("incompatible function arguments", "Unable to cast", "reparam._core", "C++")


def _names_argument(msg: str, names: tuple[str, ...]) -> bool:
    """Does `msg` name one of `names` as a word (not 'arr.size' for size, not 'output'
    for out)?"""
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", msg, re.IGNORECASE) for n in names)


def _run(cases: list[Case]) -> tuple[dict[str, dict[str, Any]], int, str]:
    """Run cases in one subprocess; returns the records by id, the exit code, stderr."""
    payload = json.dumps([PRELUDE] + [asdict(c) | {"id": c.id} for c in cases])
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    try:
        proc = subprocess.run([sys.executable, "-c", RUNNER], input=payload, capture_output=True, text=True,
                              timeout=GROUP_TIMEOUT, env=env)
        rc, out, err = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = -9999
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = f"timed out after {GROUP_TIMEOUT}s"
    records = {}
    for line in out.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "id" in rec:
            records[rec["id"]] = rec
    return records, rc, err


def _collect(cases: list[Case]) -> tuple[dict[str, dict[str, Any]], int, str]:
    """Run cases in one subprocess; if it dies, re-run each case without a record alone,
    so that the record of the culprit says CRASH. Returns the records, the first
    subprocess's exit status and its stderr."""
    records, rc, err = _run(cases)
    if rc != 0 or len(records) != len(cases):
        for c in cases:
            if c.id in records:
                continue
            rec, rc1, err1 = _run([c])
            if c.id in rec and rc1 == 0:
                records[c.id] = rec[c.id]
            else:
                records[c.id] = {"id": c.id, "crash": f"exit status {rc1}", "stderr": err1[-3000:]}
    return records, rc, err


@functools.cache
def _group_results(group: str) -> tuple[dict[str, dict[str, Any]], int, str]:
    return _collect([c for c in CASES if c.group == group])


def _check(c: Case, rec: dict[str, Any]) -> list[str]:
    problems = []
    if "crash" in rec:
        return [f"CRASH ({rec['crash']}):\n{rec['stderr']}"]
    if "setup_error" in rec:
        return [f"test setup failed: {rec['setup_error']}"]
    if rec["exc"] is None:
        if c.ok is None:
            problems.append(f"no exception (expected {' or '.join(c.exc)}); returned {rec['result']}")
        elif not rec.get("ok"):
            problems.append(f"returned {rec['result']}, which fails the check {c.ok!r} {rec.get('ok_error', '')}")
    else:
        msg = rec["msg"]
        if not c.exc:
            problems.append(f"raised {rec['exc']}: {msg!r} (expected a result with {c.ok!r})")
        elif not set(c.exc) & set(rec["mro"]):
            problems.append(f"raised {rec['exc']} (expected {' or '.join(c.exc)}): {msg!r}")
        elif c.names and not _names_argument(msg, c.names):
            problems.append(f"message does not name {' or '.join(map(repr, c.names))}: {rec['exc']}: {msg!r}")
        leaked = [s for s in LEAKS if s in msg]
        if leaked:
            problems.append(f"message exposes the private core ({leaked[0]!r}): {msg[:300]!r}")
    if rec.get("out_changed"):
        problems.append(f"{c.out} was written although the call failed" if rec["exc"]
                        else f"{c.out} changed")
    if rec.get("state_changed") and rec["exc"] is not None:
        problems.append(f"the stream of {c.rng} moved although the call failed")
    return problems


GROUPS = sorted({c.group for c in CASES})


def test_table_size() -> None:
    """The matrix is as large as documented in docs/quality.md (update both together)."""
    assert len(CASES) >= 600, len(CASES)
    assert len(GROUPS) >= 12


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case) -> None:
    rec = _group_results(c.group)[0][c.id]
    problems = _check(c, rec)
    assert not problems, f"{c.id}: {c.call}\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("group", GROUPS)
def test_group_subprocess_exits_cleanly(group: str) -> None:
    """A crash that comes late (a corrupted heap found at exit) leaves every record in
    place: the group's own exit status catches it."""
    _, rc, err = _group_results(group)
    assert rc == 0, f"the subprocess of group {group} ended with status {rc}:\n{err[-3000:]}"


def test_machinery_names_a_crash() -> None:
    """A case that kills its interpreter is reported as a CRASH under its own id, and the
    cases around it still get their results."""
    cases = [
        Case("selftest", "before", "int('x')", (VE,), ("x",)),
        # SIGKILL: no handler runs (a SIGSEGV would also leave an ASan report behind)
        Case("selftest", "killed", "__import__('os').kill(__import__('os').getpid(), "
                                   "getattr(__import__('signal'), 'SIGKILL', 9))", (VE,), ()),
        Case("selftest", "after", "float('y')", (VE,), ("y",)),
    ]
    records, rc, _ = _collect(cases)
    assert rc != 0
    assert "crash" in records["selftest:killed"]
    assert _check(cases[1], records["selftest:killed"])[0].startswith("CRASH")
    assert not _check(cases[0], records["selftest:before"])
    assert not _check(cases[2], records["selftest:after"])
