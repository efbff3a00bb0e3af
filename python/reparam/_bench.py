"""``python -m reparam bench``: time the normal sampler against NumPy, torch and JAX.

Prints Markdown tables of nanoseconds per value (median of repeated timings) for
``standard_normal`` in float32 and float64, with the ratio NumPy time / row time
measured in the same run, so that the output can be pasted into a README.
torch and JAX rows appear only when those packages are importable; matplotlib is
imported only for ``--plot``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import itertools
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import _core
from ._generator import default_rng
from ._runtime import get_num_threads, set_num_threads, simd_info
from ._version import __version__

__all__ = [
    "BenchOptions",
    "BenchResult",
    "load_json",
    "main",
    "plot_results",
    "plot_title",
    "run_benchmarks",
]

LIBRARIES = ("reparam", "numpy", "torch", "jax")
DEFAULT_SIZES = (1, 1000, 10**5, 10**7)
QUICK_SIZES = (1, 1000, 10**7)
DEFAULT_THREADS = (1, 2)
DTYPES = ("float32", "float64")
SEED = 12345


@dataclass
class BenchOptions:
    """BenchOptions(sizes, threads, dtypes, libs, all_paths, use_out, quick, ...)

    What :func:`run_benchmarks` measures, and for how long.

    Attributes
    ----------
    sizes : sequence of int
        Values per call.
    threads : sequence of int
        Every size runs at ``min(threads)``; sizes >= `mt_min_size` also at the
        others.
    dtypes : sequence of str
        ``"float32"`` and/or ``"float64"``.
    libs : sequence of str
        Among ``"reparam"``, ``"numpy"``, ``"torch"``, ``"jax"``; torch and JAX rows
        also need the modules passed to :func:`run_benchmarks`.
    all_paths : bool
        One reparam row per supported SIMD path (default: the selected one).
    use_out : bool
        Fill a preallocated array instead of allocating per call (no JAX rows).
    quick : bool
        Fewer repeats and shorter batches.
    repeats : int or None
        Timed batches per row (None: by size and `quick`).
    min_time : float or None
        Shortest timed batch in seconds (None: 0.02, 0.005 if `quick`).
    mt_min_size : int
        Smallest size measured at the larger thread counts.
    """

    sizes: Sequence[int] = DEFAULT_SIZES
    threads: Sequence[int] = DEFAULT_THREADS
    dtypes: Sequence[str] = DTYPES
    libs: Sequence[str] = LIBRARIES
    all_paths: bool = False
    use_out: bool = False
    quick: bool = False
    repeats: int | None = None
    min_time: float | None = None
    mt_min_size: int = 10**6


@dataclass
class BenchResult:
    """BenchResult(dtype, n, threads, library, label, seconds, ...)

    One row of the benchmark: the median time of one ``standard_normal`` call.

    Attributes
    ----------
    dtype : str
        ``"float32"`` or ``"float64"``.
    n : int
        Values drawn per call.
    threads : str
        Threads the library was allowed (``"xla"`` for JAX, whose pool is not
        settable at run time; always ``"1"`` for NumPy).
    group_threads : int
        The thread count of the group the row was measured in.
    library : str
        ``"reparam"``, ``"numpy"``, ``"torch"`` or ``"jax"``.
    label : str
        The row label, e.g. ``"reparam (avx512)"``.
    seconds : float
        Median seconds per call.
    ns_per_value : float
        ``seconds / n`` in nanoseconds.
    us_per_call : float
        ``seconds`` in microseconds.
    vs_numpy : float or None
        NumPy's median seconds per call in the same group divided by this row's
        (above 1 means faster than NumPy); None without a NumPy row.
    spread : float
        Interquartile range of the batch times over their median (0.05 = 5 %).
    repeats : int
        Timed batches the median is taken over.
    loops : int
        Calls per timed batch.
    times : list of float
        Seconds per call of every batch.
    """

    dtype: str
    n: int
    threads: str
    group_threads: int
    library: str
    label: str
    seconds: float
    ns_per_value: float
    us_per_call: float
    vs_numpy: float | None
    spread: float
    repeats: int
    loops: int
    times: list[float] = field(default_factory=list)


@dataclass
class _Candidate:
    """_Candidate(library, label, threads, call, activate)

    One library's call for one (dtype, n, threads) group.
    """

    library: str
    label: str
    threads: str
    call: Callable[[], object]
    activate: Callable[[], None] | None = None
    times: list[float] = field(default_factory=list)
    loops: int = 1


def _optional_module(name: str) -> Any:
    """_optional_module(name)

    The module `name`, or None when it (or something it needs) cannot be imported.
    """
    try:
        return importlib.import_module(name)
    except Exception:  # an optional library may fail in any way on import
        return None


def _cpu_model() -> str:
    """_cpu_model()

    The CPU model name from /proc/cpuinfo, else what `platform` knows.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                    if value.strip():
                        return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _usable_cores() -> int:
    """_usable_cores()

    The cores this process may run on.
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _loadavg() -> float | None:
    """_loadavg()

    The 1-minute load average, or None where the OS has none.
    """
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _busy_cores(seconds: float = 0.5) -> float | None:
    """_busy_cores(seconds=0.5)

    Cores kept busy by other processes while this one sleeps `seconds`, from
    /proc/stat (None where there is none).
    """

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        t0 = time.perf_counter()
        time.sleep(seconds)
        total1, idle1 = sample()
        elapsed = time.perf_counter() - t0
    except (OSError, ValueError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = (total1 - total0) - (idle1 - idle0)
    return max(0.0, busy / ticks / elapsed)


def _machine_info(torch: Any, jax: Any) -> dict[str, Any]:
    """_machine_info(torch, jax)

    Versions, CPU and SIMD paths, as a JSON-able dict.
    """
    versions = {
        "reparam": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    if torch is not None:
        versions["torch"] = str(torch.__version__)
    if jax is not None:
        versions["jax"] = str(jax.__version__)
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 1,
        "usable_cores": _usable_cores(),
        "platform": f"{platform.system()} {platform.machine()}",
        "simd": simd_info(),
        "versions": versions,
        "loadavg": _loadavg(),
        "busy_cores": _busy_cores(),
    }


def _parse_size(text: str) -> int:
    """_parse_size(text)

    A positive size from ``"1000"``, ``"1e7"`` or ``"10**7"``.
    """
    t = text.strip().replace("_", "")
    try:
        if "**" in t:
            base, _, exp = t.partition("**")
            value = int(int(base) ** int(exp))
        elif "e" in t.lower():
            f = float(t)
            if not f.is_integer():
                raise ValueError
            value = int(f)
        else:
            value = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"sizes must be at least 1, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    """_positive_int(text)

    A positive int, for argparse.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    """_build_parser()

    The argument parser of ``python -m reparam bench``.
    """
    p = argparse.ArgumentParser(
        prog="python -m reparam bench",
        description=(
            "Time reparam's standard_normal against NumPy (and torch.randn and a jitted "
            "jax.random.normal when installed). Prints Markdown tables of ns/value, "
            "median of repeats, with the ratio NumPy time / row time from the same run "
            "(above 1 = faster than NumPy). Progress goes to stderr."
        ),
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="sizes 1, 1000, 10**7 with fewer repeats and shorter batches (< 1 minute)",
    )
    p.add_argument(
        "--sizes",
        nargs="+",
        type=_parse_size,
        metavar="N",
        help="values per call (accepts 1000, 1e7, 10**7); default 1 1000 10**5 10**7 (1 1000 10**7 with --quick)",
    )
    p.add_argument(
        "--threads",
        nargs="+",
        type=_positive_int,
        metavar="T",
        help="thread counts (default 1 2): every size runs at the smallest, sizes "
        ">= --mt-min-size also at each of the others",
    )
    p.add_argument(
        "--mt-min-size",
        type=_parse_size,
        default=10**6,
        metavar="N",
        help="smallest size also measured at the larger thread counts (default 10**6)",
    )
    p.add_argument(
        "--dtypes",
        nargs="+",
        choices=DTYPES,
        default=list(DTYPES),
        help="dtypes to measure (default both)",
    )
    p.add_argument(
        "--libs",
        nargs="+",
        choices=LIBRARIES,
        default=list(LIBRARIES),
        help="libraries to measure (default all; torch and jax only if importable)",
    )
    p.add_argument(
        "--all-paths",
        action="store_true",
        help="one reparam row per SIMD path this CPU supports (default: the selected one)",
    )
    p.add_argument(
        "--out",
        action="store_true",
        help="fill one preallocated array per row (out=) instead of allocating per call; JAX rows are skipped",
    )
    p.add_argument(
        "--repeats",
        type=_positive_int,
        metavar="R",
        help="timed batches per row (default 21/15/7 for n <= 10**5 / 10**6 / larger; 7/5/3 with --quick)",
    )
    p.add_argument(
        "--min-time",
        type=float,
        metavar="SECONDS",
        help="shortest timed batch; small n loops calls up to it (default 0.02, 0.005 with --quick)",
    )
    p.add_argument("--plot", metavar="FILE.png", help="save a bar chart (needs matplotlib)")
    p.add_argument("--json", metavar="FILE", help="save machine info and all rows as JSON")
    return p


def _default_repeats(n: int, quick: bool) -> int:
    """_default_repeats(n, quick)

    Timed batches for a size.
    """
    if n <= 10**5:
        return 7 if quick else 21
    if n <= 10**6:
        return 5 if quick else 15
    return 3 if quick else 7


@contextmanager
def _gc_paused() -> Iterator[None]:
    """_gc_paused()

    Disable the cyclic garbage collector inside the block, as timeit does.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _time_batch(call: Callable[[], object], loops: int) -> float:
    """_time_batch(call, loops)

    Seconds per call of `loops` back-to-back calls.
    """
    it = itertools.repeat(None, loops)
    t0 = time.perf_counter()
    for _ in it:
        call()
    return (time.perf_counter() - t0) / loops


def _warm_up(call: Callable[[], object], seconds: float) -> None:
    """_warm_up(call, seconds)

    Call `call` at least twice and for at least `seconds` (first touch of memory,
    JIT compilation, thread pools started and spread over the cores).
    """
    end = time.perf_counter() + seconds
    call()
    call()
    while time.perf_counter() < end:
        call()


def _calibrate(call: Callable[[], object], min_time: float) -> int:
    """_calibrate(call, min_time)

    Calls per batch so that one batch takes at least `min_time` seconds.
    """
    loops = 1
    while True:
        elapsed = _time_batch(call, loops) * loops
        if elapsed >= min_time or loops >= 10**7:
            return loops
        grow = min_time / elapsed * 1.3 if elapsed > 0 else 100.0
        loops = min(10**7, max(loops * 2, math.ceil(loops * min(grow, 100.0))))


def _standard_normal_call(rng: Any, n: int, dt: np.dtype[Any], use_out: bool) -> Callable[[], object]:
    """_standard_normal_call(rng, n, dt, use_out)

    ``rng.standard_normal`` of `n` values of `dt`, into a fixed buffer if `use_out`
    (a partial, so that no Python frame is added to the time of a call).
    """
    if use_out:
        buf = np.empty(n, dt)
        return functools.partial(rng.standard_normal, dtype=dt, out=buf)
    return functools.partial(rng.standard_normal, n, dtype=dt)


def _reparam_candidates(n: int, dtype: str, threads: int, all_paths: bool, use_out: bool) -> list[_Candidate]:
    """_reparam_candidates(n, dtype, threads, all_paths, use_out)

    One candidate per SIMD path measured (the selected one unless `all_paths`).
    """
    dt = np.dtype(dtype)
    selected = str(_core.selected_target())
    paths = [str(p) for p in _core.supported_targets()] if all_paths else [selected]
    out: list[_Candidate] = []
    for path in paths:
        call = _standard_normal_call(default_rng(SEED), n, dt, use_out)

        def activate(path: str = path) -> None:
            _core.select_target(path)

        if all_paths:
            label = f"reparam [{path}]" + (" *" if path == selected else "")
        else:
            label = f"reparam ({path})"
        out.append(_Candidate("reparam", label, str(threads), call, activate))
    return out


def _numpy_candidate(n: int, dtype: str, use_out: bool) -> _Candidate:
    """_numpy_candidate(n, dtype, use_out)

    ``np.random.default_rng().standard_normal`` (single-threaded).
    """
    call = _standard_normal_call(np.random.default_rng(SEED), n, np.dtype(dtype), use_out)
    return _Candidate("numpy", "numpy", "1", call)


def _torch_candidate(torch: Any, n: int, dtype: str, threads: int, use_out: bool) -> _Candidate:
    """_torch_candidate(torch, n, dtype, threads, use_out)

    ``torch.randn`` with its own generator, on `threads` intra-op threads.
    """
    tdt = getattr(torch, dtype)
    gen = torch.Generator().manual_seed(SEED)
    if use_out:
        buf = torch.empty(n, dtype=tdt)
        call = functools.partial(torch.randn, n, dtype=tdt, generator=gen, out=buf)
    else:
        call = functools.partial(torch.randn, n, dtype=tdt, generator=gen)
    return _Candidate("torch", "torch.randn", str(threads), call)


def _jax_candidate(jax: Any, n: int, dtype: str) -> _Candidate:
    """_jax_candidate(jax, n, dtype)

    A jitted ``jax.random.normal`` on a fixed key, waited for with
    ``block_until_ready``.
    """
    jnp = importlib.import_module("jax.numpy")
    jdt = getattr(jnp, dtype)
    key = jax.random.key(SEED)
    fn = jax.jit(lambda k: jax.random.normal(k, (n,), dtype=jdt))

    def call() -> object:
        return fn(key).block_until_ready()

    return _Candidate("jax", "jax.random.normal (jit)", "xla", call)


def _spread(times: Sequence[float]) -> float:
    """_spread(times)

    Interquartile range over median (0 for fewer than two times).
    """
    if len(times) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return (q3 - q1) / statistics.median(times)


def _fmt(x: float) -> str:
    """_fmt(x)

    About four significant digits, without exponent.
    """
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.1f}"
    if x >= 10:
        return f"{x:.2f}"
    return f"{x:.3f}"


def _fmt_n(n: int) -> str:
    """_fmt_n(n)

    ``10**k`` for powers of ten from 10**4 on, else the digits.
    """
    k = round(math.log10(n)) if n > 0 else 0
    if n >= 10**4 and 10**k == n:
        return f"10**{k}"
    return str(n)


def _format_tables(results: Sequence[BenchResult]) -> str:
    """_format_tables(results)

    One Markdown table per dtype.
    """
    blocks: list[str] = []
    for dtype in DTYPES:
        rows = [r for r in results if r.dtype == dtype]
        if not rows:
            continue
        lines = [
            f"standard_normal, {dtype}",
            "",
            "| n | threads | library | ns/value | us/call | vs NumPy | IQR |",
            "|---:|---:|:---|---:|---:|---:|---:|",
        ]
        for r in rows:
            ratio = "" if r.vs_numpy is None else f"{r.vs_numpy:.2f}x"
            lines.append(
                f"| {_fmt_n(r.n)} | {r.threads} | {r.label} | {_fmt(r.ns_per_value)} "
                f"| {_fmt(r.us_per_call)} | {ratio} | {r.spread * 100:.0f}% |"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _format_header(command: str, info: dict[str, Any], settings: str) -> str:
    """_format_header(command, info, settings)

    The command line, the machine and the timing method.
    """
    simd = info["simd"]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    cores = f"{info['cores']} cores"
    if info["usable_cores"] != info["cores"]:
        cores += f" ({info['usable_cores']} usable)"
    if info["loadavg"] is not None:
        cores += f", load average {info['loadavg']:.2f}"
    busy = info["busy_cores"]
    if busy is not None:
        cores += f", {busy:.2f} cores busy with other work at start"
        if busy >= 0.25:
            cores += " (timings, multi-threaded ones most, may be off)"
    return "\n".join(
        [
            f"$ {command}",
            f"machine: {info['cpu']}, {cores}, {info['platform']}",
            f"simd:    selected {simd['selected']}; supported {', '.join(simd['supported'])}; "
            f"compiled {', '.join(simd['compiled'])}",
            f"versions: {versions}",
            f"timing:  {settings}",
        ]
    )


def run_benchmarks(
    options: BenchOptions,
    *,
    progress: Callable[[str], None] | None = None,
    torch: Any = None,
    jax: Any = None,
) -> list[BenchResult]:
    """run_benchmarks(options, *, progress=None, torch=None, jax=None)

    Time every library for every (dtype, n, thread count) group.

    Within a group the libraries' batches are interleaved (one batch of each in
    turn, repeated) after a warm-up and a calibration, so that drift in the
    machine's speed hits all of them alike. JAX runs in a second pass over the
    groups, interleaved with NumPy only: once XLA has run a large computation in
    the process, the other libraries' large multi-threaded calls were measured up
    to 2.7x slower. reparam's thread count and SIMD path and torch's thread count
    are restored afterwards.

    Parameters
    ----------
    options : BenchOptions
        What to measure and how long.
    progress : callable, optional
        Called with one line of progress per group.
    torch, jax : module, optional
        The imported modules, or None to skip their rows.

    Returns
    -------
    list of BenchResult
        Ordered by dtype, then n, then thread count, then library.
    """
    sizes, threads, libs = options.sizes, options.threads, options.libs
    use_out, quick, repeats = options.use_out, options.quick, options.repeats
    min_time = options.min_time
    batch_time = min_time if min_time is not None else (0.005 if quick else 0.02)
    warm_time = 0.05 if quick else 0.2
    base = min(threads)
    groups = [
        (dtype, n, t)
        for dtype in options.dtypes
        for n in sizes
        for t in sorted(set(threads))
        if t == base or n >= options.mt_min_size
    ]
    saved_threads = get_num_threads()
    saved_path = str(_core.selected_target())
    saved_torch = int(torch.get_num_threads()) if torch is not None else None
    with_jax = "jax" in libs and jax is not None and not use_out
    passes = [(g, False) for g in groups] + [(g, True) for g in groups if with_jax and g[2] == base]
    results: list[BenchResult] = []
    try:
        for i, ((dtype, n, t), jax_pass) in enumerate(passes, 1):
            started = time.perf_counter()
            set_num_threads(t)
            if torch is not None:
                torch.set_num_threads(t)
            cands: list[_Candidate] = []
            if "reparam" in libs and not jax_pass:
                cands += _reparam_candidates(n, dtype, t, options.all_paths, use_out)
            if "numpy" in libs or jax_pass:
                cands.append(_numpy_candidate(n, dtype, use_out))
            if "torch" in libs and torch is not None and not jax_pass:
                cands.append(_torch_candidate(torch, n, dtype, t, use_out))
            if jax_pass:
                cands.append(_jax_candidate(jax, n, dtype))
            if progress is not None:
                progress(f"[{i}/{len(passes)}] {dtype} n={_fmt_n(n)} threads={t}: " + ", ".join(c.label for c in cands))
            reps = repeats if repeats is not None else _default_repeats(n, quick)
            with _gc_paused():
                for c in cands:
                    if c.activate is not None:
                        c.activate()
                    _warm_up(c.call, warm_time)
                    c.loops = _calibrate(c.call, batch_time)
                for _ in range(reps):
                    for c in cands:
                        if c.activate is not None:
                            c.activate()
                        if c.loops == 1:
                            # One untimed call first: it wakes this library's thread
                            # pool and lets the previous library's spinning pool idle.
                            c.call()
                        c.times.append(_time_batch(c.call, c.loops))
            _core.select_target(saved_path)
            medians = {id(c): statistics.median(c.times) for c in cands}
            numpy_time = next((medians[id(c)] for c in cands if c.library == "numpy"), None)
            for c in cands:
                if jax_pass and c.library != "jax":
                    continue  # NumPy's row of this group comes from the first pass
                sec = medians[id(c)]
                results.append(
                    BenchResult(
                        dtype=dtype,
                        n=n,
                        threads=c.threads,
                        group_threads=t,
                        library=c.library,
                        label=c.label,
                        seconds=sec,
                        ns_per_value=sec / n * 1e9,
                        us_per_call=sec * 1e6,
                        vs_numpy=None if numpy_time is None else numpy_time / sec,
                        spread=_spread(c.times),
                        repeats=reps,
                        loops=c.loops,
                        times=list(c.times),
                    )
                )
            if progress is not None:
                progress(f"      done in {time.perf_counter() - started:.1f} s")
    finally:
        set_num_threads(saved_threads)
        _core.select_target(saved_path)
        if torch is not None and saved_torch is not None:
            torch.set_num_threads(saved_torch)
    order = {g: k for k, g in enumerate(groups)}
    return sorted(results, key=lambda r: (order[r.dtype, r.n, r.group_threads], r.library == "jax"))


def _plot(results: Sequence[BenchResult], path: str, title: str, plt: Any) -> None:
    """_plot(results, path, title, plt)

    Grouped bars of ns/value (log scale), one panel per dtype, saved to `path`.
    """
    dtypes = [d for d in DTYPES if any(r.dtype == d for r in results)]
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.5 * len(dtypes), 4.8), squeeze=False, sharey=True)
    for ax, dtype in zip(axes[0], dtypes, strict=True):
        rows = [r for r in results if r.dtype == dtype]
        groups = sorted({(r.n, r.group_threads) for r in rows})
        labels = list(dict.fromkeys(r.label for r in rows))
        width = 0.8 / max(len(labels), 1)
        for j, label in enumerate(labels):
            xs: list[float] = []
            ys: list[float] = []
            for g, (n, t) in enumerate(groups):
                for r in rows:
                    if r.label == label and (r.n, r.group_threads) == (n, t):
                        xs.append(g - 0.4 + width * (j + 0.5))
                        ys.append(r.ns_per_value)
            ax.bar(xs, ys, width=width, label=label)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"n={_fmt_n(n)}\n{t} thr" for n, t in groups])
        ax.set_yscale("log")
        ax.set_title(f"standard_normal, {dtype}")
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0][0].set_ylabel("ns per value (lower is better)")
    axes[0][-1].legend(fontsize="small")
    fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _import_pyplot() -> Any:
    """_import_pyplot()

    matplotlib.pyplot on the Agg backend; ImportError with what to install.
    """
    try:
        matplotlib = importlib.import_module("matplotlib")
    except ImportError as exc:
        raise ImportError(
            "plotting needs matplotlib, which is not installed "
            "(pip install matplotlib, or pip install 'reparam[bench]')"
        ) from exc
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def plot_results(results: Sequence[BenchResult], path: str, title: str = "") -> None:
    """plot_results(results, path, title="")

    Save grouped bars of ns/value (log scale), one panel per dtype.

    Parameters
    ----------
    results : sequence of BenchResult
        Rows from :func:`run_benchmarks` (or :func:`load_json`).
    path : str
        The image file to write; its suffix picks the format.
    title : str, optional
        A title above the panels.

    Raises
    ------
    ImportError
        Without matplotlib.
    """
    _plot(results, path, title, _import_pyplot())


def load_json(path: str) -> tuple[dict[str, Any], list[BenchResult]]:
    """load_json(path)

    Read a file written by ``python -m reparam bench --json``.

    Parameters
    ----------
    path : str
        The JSON file.

    Returns
    -------
    meta : dict
        ``"command"``, ``"machine"`` and ``"settings"``.
    results : list of BenchResult
        The rows.
    """
    with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    results = [BenchResult(**row) for row in payload.pop("results")]
    return payload, results


def plot_title(command: str, machine: dict[str, Any]) -> str:
    """plot_title(command, machine)

    The command line and the machine, for a plot's title.
    """
    return f"{command}\n{machine['cpu']}, {machine['cores']} cores, {machine['simd']['selected']}"


def main(argv: Sequence[str] | None = None) -> int:
    """main(argv=None)

    Run ``python -m reparam bench`` with the arguments after ``bench``.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 on a usage error.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _build_parser().parse_args(args_list)

    plt: Any = None
    if args.plot:
        try:
            plt = _import_pyplot()
        except ImportError as exc:
            print(f"error: --plot: {exc}", file=sys.stderr)
            return 2

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    libs: list[str] = list(args.libs)
    torch = _optional_module("torch") if "torch" in libs else None
    jax = None
    if "jax" in libs:
        jax = _optional_module("jax")
        if jax is not None:
            jax.config.update("jax_enable_x64", True)  # for float64 rows
    for name, mod in (("torch", torch), ("jax", jax)):
        if name in libs and mod is None:
            progress(f"{name} is not installed: no {name} rows")

    sizes = list(args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES))
    threads = list(args.threads or DEFAULT_THREADS)
    cores = _usable_cores()
    if max(threads) > cores:
        progress(f"warning: {max(threads)} threads requested on {cores} usable cores")
    batch = args.min_time if args.min_time is not None else (0.005 if args.quick else 0.02)
    reps = (
        f"{args.repeats} timed batches"
        if args.repeats is not None
        else ("7/5/3" if args.quick else "21/15/7") + " timed batches for n <= 10**5 / <= 10**6 / larger"
    )
    settings = (
        f"median of {reps} (time.perf_counter), each library warmed up first and "
        f"the libraries' batches interleaved; small n loops calls to >= {batch * 1e3:g} ms "
        "per batch, a batch of one call follows an untimed call; "
        + ("fills a preallocated out= array" if args.out else "each call allocates its output")
        + "; vs NumPy = NumPy time / row time in the same group (> 1 = faster); "
        "IQR = interquartile range / median; NumPy is single-threaded"
        + (
            "; jax: x64 enabled, fixed key, XLA's own threads, measured after all other rows "
            "(interleaved with a second NumPy run, its ratio's baseline)"
            if jax is not None and not args.out
            else ""
        )
    )
    command = shlex.join(["python", "-m", "reparam", "bench", *args_list])
    info = _machine_info(torch, jax)
    progress(f"measuring {len(sizes)} sizes x {len(args.dtypes)} dtypes ...")
    started = time.perf_counter()
    options = BenchOptions(
        sizes=sizes,
        threads=threads,
        dtypes=args.dtypes,
        libs=libs,
        all_paths=args.all_paths,
        use_out=args.out,
        quick=args.quick,
        repeats=args.repeats,
        min_time=args.min_time,
        mt_min_size=args.mt_min_size,
    )
    results = run_benchmarks(options, progress=progress, torch=torch, jax=jax)
    progress(f"total {time.perf_counter() - started:.1f} s")

    print(_format_header(command, info, settings))
    print()
    print(_format_tables(results))
    sys.stdout.flush()

    if args.json:
        payload = {
            "command": command,
            "machine": info,
            "settings": settings,
            "results": [asdict(r) for r in results],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
        progress(f"wrote {args.json}")
    if args.plot:
        _plot(results, args.plot, plot_title(command, info), plt)
        progress(f"wrote {args.plot}")
    return 0
