"""``python -m reparam bench``: time the normal sampler against NumPy, torch and JAX.

Prints Markdown tables of nanoseconds per value (median of repeated timings) for
``standard_normal`` in float32 and float64, with the ratio NumPy time / row time
measured in the same run, so that the output can be pasted into a README.
torch and JAX rows appear only when those packages are importable; matplotlib is
imported only for ``--plot``.

``--sizes-sweep`` times every public entry point instead, each next to the
hand-written NumPy (or torch) code it replaces, on one thread from 10**2 to 10**7
values per call (`SWEEP_CASES`, also the cases of benchmarks/test_bench_sizes.py).
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
    "SWEEP_CASES",
    "BenchOptions",
    "BenchResult",
    "SweepCase",
    "SweepResult",
    "load_json",
    "main",
    "plot_results",
    "plot_title",
    "run_benchmarks",
    "run_sweep",
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

    The CPU model name from /proc/cpuinfo (with its x86 family and model numbers,
    which tell apart CPUs that a VM names only "AMD EPYC"), else what `platform` knows.
    """
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the first processor is enough
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = next((fields[k] for k in ("model name", "Model", "Hardware", "cpu model") if fields.get(k)), "")
    if not name:
        return platform.processor() or platform.machine() or "unknown CPU"
    if fields.get("cpu family") and fields.get("model"):
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


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
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
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
        help="sizes 1, 1000, 10**7 with fewer repeats and shorter batches (< 1 minute); "
        "with --sizes-sweep: sizes 10**2 to 10**5",
    )
    p.add_argument(
        "--sizes-sweep",
        action="store_true",
        help="instead: every public entry point (sampling, Normal.rsample, reparameterize, "
        "pathwise_grad, score_grad, kl_standard_normal, log_prob, estimate_grad, "
        "reparam.torch.rsample) next to the hand-written NumPy/torch code it replaces, "
        "one thread, sizes 10**2 to 10**7 (--sizes and --dtypes choose; torch only if "
        "importable and in --libs; --threads, --all-paths, --out and --plot do not apply)",
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
    p.add_argument(
        "--markdown",
        action="store_true",
        help="print a paste-ready Markdown report instead: a paragraph naming the command, date, CPU, "
        "cores, SIMD path and versions, then one compact table (one row per size, dtype and thread "
        "count, one column per library; with --sizes-sweep: the ratio tables, then every time)",
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


def _time_candidates(cands: Sequence[_Candidate], reps: int, warm_time: float, batch_time: float) -> None:
    """_time_candidates(cands, reps, warm_time, batch_time)

    Warm every candidate up and calibrate its batch, then time `reps` batches of
    each in turn (interleaved, so that drift in the machine's speed hits all of them
    alike), appending seconds per call to ``c.times``; the garbage collector is off.
    """
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


def _markdown_header(command: str, info: dict[str, Any], settings: str) -> str:
    """_markdown_header(command, info, settings)

    A Markdown paragraph naming the command, the date, the machine (CPU model, cores,
    load, SIMD path) and the versions, then the timing method.
    """
    simd = info["simd"]
    versions = info["versions"]
    names = {"python": "Python", "numpy": "NumPy", "torch": "torch", "jax": "jax", "reparam": "reparam"}
    ordered = [f"{names[k]} {versions[k]}" for k in ("python", "numpy", "torch", "jax", "reparam") if k in versions]
    cores = f"{info['cores']} cores"
    if info["usable_cores"] != info["cores"]:
        cores += f", {info['usable_cores']} usable"
    if info["loadavg"] is not None:
        cores += f", load average {info['loadavg']:.2f}"
    busy = info["busy_cores"]
    if busy is not None:
        cores += f", {busy:.2f} cores busy with other work at the start"
    return "\n".join(
        [
            f"Measured with `{command}` on {info.get('date', 'an unknown date')}: "
            f"**{info['cpu']}** ({cores}), {info['platform']}, SIMD path `{simd['selected']}` "
            f"(supported: {', '.join(simd['supported'])}); {', '.join(ordered)}.",
            "",
            f"Timing: {settings}.",
        ]
    )


def _format_markdown(results: Sequence[BenchResult]) -> str:
    """_format_markdown(results)

    One Markdown table: a row per (dtype, n, thread count), a column of ns/value per
    library (row label), and reparam's ratio to NumPy.
    """
    labels = list(dict.fromkeys(r.label for r in results))
    groups = list(dict.fromkeys((r.dtype, r.n, r.group_threads) for r in results))
    lines = [
        "| n | dtype | threads | " + " | ".join(f"{lab} ns/value" for lab in labels) + " | reparam vs NumPy |",
        "|---:|:---|---:|" + "---:|" * len(labels) + "---:|",
    ]
    for dtype, n, t in groups:
        rows = {r.label: r for r in results if (r.dtype, r.n, r.group_threads) == (dtype, n, t)}
        mine = [r for r in rows.values() if r.library == "reparam"]
        best = next((r for r in mine if r.label.endswith("*")), mine[0] if len(mine) == 1 else None)
        ratio = "" if best is None or best.vs_numpy is None else f"{best.vs_numpy:.2f}x"
        cells = [_fmt(rows[lab].ns_per_value) if lab in rows else "" for lab in labels]
        lines.append(f"| {_fmt_n(n)} | {dtype} | {t} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


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
            _time_candidates(cands, reps, warm_time, batch_time)
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


# ------------------------------------------------------------------- the size sweep
# ``python -m reparam bench --sizes-sweep`` and benchmarks/test_bench_sizes.py: every
# public entry point next to the hand-written NumPy (or torch) code it replaces, given
# the same inputs, on one thread, from 10**2 to 10**7 values per call.

SWEEP_SIZES = (10**2, 10**3, 10**4, 10**5, 10**6, 10**7)
SWEEP_QUICK_SIZES = (10**2, 10**3, 10**4, 10**5)
SWEEP_COLUMNS = 20


def sweep_shape(n: int) -> tuple[int, ...]:
    """sweep_shape(n)

    The batch shape of `n` values in the sweep: ``(n // 20, 20)`` (a minibatch of
    20-dimensional rows) when 20 divides `n`, else ``(n,)``.
    """
    if n >= SWEEP_COLUMNS and n % SWEEP_COLUMNS == 0:
        return (n // SWEEP_COLUMNS, SWEEP_COLUMNS)
    return (n,)


@dataclass
class SweepInputs:
    """SweepInputs(n, dtype, shape, mu, logvar, scale, x, g, f, q, noise, eps)

    The arrays every case of the sweep reads, all of `dtype`: mu, logvar, scale
    (``exp(logvar / 2)``) and x (a point for ``log_prob``) of the batch `shape`; g
    (an upstream gradient dL/dz), f (one score-function value per sample and element)
    and eps of shape ``(1,) + shape`` (one sample); q = ``Normal(mu, logvar=logvar)``
    and the `Noise` handle of the ``q.rsample(1, return_noise=True)`` call that drew
    eps.
    """

    n: int
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    mu: np.ndarray[Any, Any]
    logvar: np.ndarray[Any, Any]
    scale: np.ndarray[Any, Any]
    x: np.ndarray[Any, Any]
    g: np.ndarray[Any, Any]
    f: np.ndarray[Any, Any]
    q: Any
    noise: Any
    eps: np.ndarray[Any, Any]


def sweep_inputs(n: int, dtype: str) -> SweepInputs:
    """sweep_inputs(n, dtype)

    The seeded inputs of the sweep for `n` values of `dtype` (sigma in [0.37, 2.7]).
    """
    from ._normal import Normal

    dt = np.dtype(dtype)
    shape = sweep_shape(n)
    r = np.random.default_rng(SEED)
    mu = r.standard_normal(shape).astype(dt)
    logvar = r.uniform(-2.0, 2.0, shape).astype(dt)
    scale = np.exp(0.5 * logvar)
    x = r.standard_normal(shape).astype(dt)
    g = (r.standard_normal((1, *shape)) + 0.1).astype(dt)
    f = r.standard_normal((1, *shape)).astype(dt)
    q = Normal(mu, logvar=logvar)
    _, noise = q.rsample(1, rng=SEED, return_noise=True)
    eps = np.asarray(noise)
    return SweepInputs(n, dt, shape, mu, logvar, scale, x, g, f, q, noise, eps)


@dataclass
class SweepCalls:
    """SweepCalls(reparam, peer, expected)

    The two timed calls of one case, and what reparam's result must equal.

    Attributes
    ----------
    reparam, peer : callable
        No arguments; each returns its result.
    expected : callable or None
        The peer's expression on the stored eps (untimed), which reparam's result must
        match to rounding; None where the results are random (sampling).
    """

    reparam: Callable[[], object]
    peer: Callable[[], object]
    expected: Callable[[], object] | None


@dataclass(frozen=True)
class SweepCase:
    """SweepCase(name, reparam, peer, build, needs_torch=False)

    One entry point of the sweep.

    Attributes
    ----------
    name : str
        A short identifier (pytest ids, ``--json``).
    reparam, peer : str
        The call and the hand-written expression, as printed.
    build : callable
        ``build(inputs, torch)`` -> `SweepCalls`.
    needs_torch : bool
        Skipped without torch.
    """

    name: str
    reparam: str
    peer: str
    build: Callable[[SweepInputs, Any], SweepCalls]
    needs_torch: bool = False


def _sweep_sampling(call: Callable[[SweepInputs, Any], Callable[[], object]],
                    with_logvar: bool) -> Callable[[SweepInputs, Any], SweepCalls]:
    """_sweep_sampling(call, with_logvar)

    A sampling case: `call(inputs, generator)` against ``mu + sigma *
    rng.standard_normal(shape, dtype)`` with sigma ``np.exp(0.5 * logvar)`` computed in
    the call if `with_logvar`, else the stored scale.
    """

    def build(inp: SweepInputs, torch: Any) -> SweepCalls:
        rng = np.random.default_rng(SEED)
        mu, lv, sigma, shape, dt = inp.mu, inp.logvar, inp.scale, inp.shape, inp.dtype
        if with_logvar:
            def peer() -> object:
                return mu + np.exp(0.5 * lv) * rng.standard_normal(shape, dt)
        else:
            def peer() -> object:
                return mu + sigma * rng.standard_normal(shape, dt)
        return SweepCalls(call(inp, default_rng(SEED)), peer, None)

    return build


def _pathwise_numpy(g: Any, eps: Any, lv: Any) -> tuple[Any, Any]:
    """_pathwise_numpy(g, eps, lv)

    The hand-written pathwise gradient for logvar, the mean over the sample axis as a sum
    over it divided by its length (NumPy's ``mean`` costs a few us more per call).
    """
    s = g.shape[0]
    return g.sum(0) / s, (g * eps).sum(0) * ((0.5 / s) * np.exp(0.5 * lv))


def _build_pathwise(handle: bool) -> Callable[[SweepInputs, Any], SweepCalls]:
    """_build_pathwise(handle)

    ``q.pathwise_grad(g, eps)`` (or with the `Noise` handle) against the NumPy
    expression; with the handle the peer first redraws eps with NumPy, since a handle
    stores no eps (the issue's bar: the stored-eps time plus a ``standard_normal``).
    """

    def build(inp: SweepInputs, torch: Any) -> SweepCalls:
        q, g, eps, lv, dt = inp.q, inp.g, inp.eps, inp.logvar, inp.dtype
        src = inp.noise if handle else eps

        def expected() -> object:
            return _pathwise_numpy(g, eps, lv)

        if handle:
            rng = np.random.default_rng(SEED)

            def peer() -> object:
                return _pathwise_numpy(g, rng.standard_normal(g.shape, dt), lv)
        else:
            peer = expected
        return SweepCalls(functools.partial(q.pathwise_grad, g, src), peer, expected)

    return build


def _build_score(inp: SweepInputs, torch: Any) -> SweepCalls:
    """_build_score(inp, torch)

    ``q.score_grad(f, eps)`` (no baseline) against the NumPy expression on the same eps.
    """
    q, f, eps, lv = inp.q, inp.f, inp.eps, inp.logvar

    s = f.shape[0]

    def peer() -> object:
        return (f * eps).sum(0) * (np.exp(-0.5 * lv) / s), (f * (eps * eps - 1)).sum(0) * (0.5 / s)

    return SweepCalls(functools.partial(q.score_grad, f, eps), peer, peer)


def _build_kl(inp: SweepInputs, torch: Any) -> SweepCalls:
    """_build_kl(inp, torch)

    ``q.kl_standard_normal(grad=True)`` against the closed form and its gradients in NumPy.
    """
    q, mu, lv = inp.q, inp.mu, inp.logvar

    def peer() -> object:
        v = np.exp(lv)
        return 0.5 * (v + mu * mu - 1 - lv), mu, 0.5 * (v - 1)

    return SweepCalls(functools.partial(q.kl_standard_normal, grad=True), peer, peer)


def _build_log_prob(inp: SweepInputs, torch: Any) -> SweepCalls:
    """_build_log_prob(inp, torch)

    ``q.log_prob(x)`` against the log density in NumPy.
    """
    q, mu, lv, x = inp.q, inp.mu, inp.logvar, inp.x
    half_log_2pi = 0.5 * math.log(2 * math.pi)  # a Python float: keeps float32 float32

    def peer() -> object:
        return -0.5 * ((x - mu) ** 2 * np.exp(-lv) + lv) - half_log_2pi

    return SweepCalls(functools.partial(q.log_prob, x), peer, peer)


def _sweep_fn(z: Any) -> tuple[Any, Any]:
    """_sweep_fn(z)

    ``(z**2 / 2, z)``: f(z) and df/dz, the integrand of the estimate_grad case.
    """
    return 0.5 * z * z, z


def _build_estimate(inp: SweepInputs, torch: Any) -> SweepCalls:
    """_build_estimate(inp, torch)

    ``estimate_grad(fn, q, 1, rng=rg)`` against drawing eps with NumPy, z, fn(z) and the
    pathwise expression.
    """
    from ._estimate import estimate_grad

    q, mu, lv, shape, dt = inp.q, inp.mu, inp.logvar, (1, *inp.shape), inp.dtype
    rg = default_rng(SEED)
    rng = np.random.default_rng(SEED)

    def call() -> object:
        return estimate_grad(_sweep_fn, q, 1, rng=rg)

    def peer() -> object:
        eps = rng.standard_normal(shape, dt)
        sigma = np.exp(0.5 * lv)
        _, g = _sweep_fn(mu + sigma * eps)
        return g.sum(0), (g * eps).sum(0) * (0.5 * sigma)  # one sample: the sums are the means

    return SweepCalls(call, peer, None)


def _build_torch(inp: SweepInputs, torch: Any) -> SweepCalls:
    """_build_torch(inp, torch)

    ``reparam.torch.rsample(mu, lv)`` against ``mu + torch.exp(0.5 * lv) *
    torch.randn_like(mu)``, each followed by ``z.sum().backward()`` (gradients reset first).
    """
    rt = importlib.import_module("reparam.torch")
    loc = torch.from_numpy(inp.mu).requires_grad_()
    lv = torch.from_numpy(inp.logvar).requires_grad_()
    torch.manual_seed(SEED)

    def step(forward: Callable[[], Any]) -> Callable[[], object]:
        def fn() -> object:
            loc.grad = lv.grad = None
            z = forward()
            z.sum().backward()
            return z.detach(), loc.grad, lv.grad

        return fn

    def peer_forward() -> Any:
        return loc + torch.exp(0.5 * lv) * torch.randn_like(loc)

    return SweepCalls(step(functools.partial(rt.rsample, loc, lv)), step(peer_forward), None)


def _normal_rsample(mu: Any, rg: Any, **param: Any) -> object:
    """_normal_rsample(mu, rg, **param)

    ``Normal(mu, **param).rsample(rng=rg)``: the distribution is built in the timed call.
    """
    from ._normal import Normal

    return Normal(mu, **param).rsample(rng=rg)


def _reparameterize(mu: Any, lv: Any, rg: Any) -> object:
    """_reparameterize(mu, lv, rg)

    ``reparameterize(mu, lv, "logvar", rng=rg)``.
    """
    from ._normal import reparameterize

    return reparameterize(mu, lv, "logvar", rng=rg)


SWEEP_CASES: tuple[SweepCase, ...] = (
    SweepCase("standard_normal", "rg.standard_normal(shape, dtype)", "rng.standard_normal(shape, dtype)",
              _sweep_sampling(lambda inp, rg: functools.partial(rg.standard_normal, inp.shape, inp.dtype), False)),
    SweepCase("normal", "rg.normal(mu, sigma, dtype=dtype)", "mu + sigma * rng.standard_normal(shape, dtype)",
              _sweep_sampling(lambda inp, rg: functools.partial(rg.normal, inp.mu, inp.scale, dtype=inp.dtype),
                              False)),
    SweepCase("rsample_logvar", "Normal(mu, logvar=lv).rsample(rng=rg)",
              "mu + np.exp(0.5 * lv) * rng.standard_normal(shape, dtype)",
              _sweep_sampling(lambda inp, rg: functools.partial(_normal_rsample, inp.mu, rg, logvar=inp.logvar),
                              True)),
    SweepCase("rsample_scale", "Normal(mu, scale=sigma).rsample(rng=rg)",
              "mu + sigma * rng.standard_normal(shape, dtype)",
              _sweep_sampling(lambda inp, rg: functools.partial(_normal_rsample, inp.mu, rg, scale=inp.scale),
                              False)),
    SweepCase("reparameterize", 'reparameterize(mu, lv, "logvar", rng=rg)',
              "mu + np.exp(0.5 * lv) * rng.standard_normal(shape, dtype)",
              _sweep_sampling(lambda inp, rg: functools.partial(_reparameterize, inp.mu, inp.logvar, rg), True)),
    SweepCase("pathwise_grad_eps", "q.pathwise_grad(g, eps)",
              "g.sum(0) / S, (g * eps).sum(0) * (0.5 / S * np.exp(0.5 * lv))", _build_pathwise(False)),
    SweepCase("pathwise_grad_noise", "q.pathwise_grad(g, noise)",
              "eps = rng.standard_normal(g.shape, dtype), then the stored-eps expression",
              _build_pathwise(True)),
    SweepCase("score_grad", "q.score_grad(f, eps)",
              "(f * eps).sum(0) * (np.exp(-0.5 * lv) / S), (f * (eps * eps - 1)).sum(0) * (0.5 / S)",
              _build_score),
    SweepCase("kl_standard_normal", "q.kl_standard_normal(grad=True)",
              "v = np.exp(lv); 0.5 * (v + mu * mu - 1 - lv), mu, 0.5 * (v - 1)", _build_kl),
    SweepCase("log_prob", "q.log_prob(x)", "-0.5 * ((x - mu) ** 2 * np.exp(-lv) + lv) - 0.5 * log(2 pi)",
              _build_log_prob),
    SweepCase("estimate_grad", "estimate_grad(fn, q, 1, rng=rg), fn(z) = (z * z / 2, z)",
              "eps = rng.standard_normal(...); sigma = np.exp(0.5 * lv); fn(mu + sigma * eps); "
              "the pathwise expression", _build_estimate),
    SweepCase("torch_rsample", "reparam.torch.rsample(mu, lv), z.sum().backward()",
              "mu + torch.exp(0.5 * lv) * torch.randn_like(mu), z.sum().backward()", _build_torch,
              needs_torch=True),
)


def _result_arrays(out: object) -> list[np.ndarray[Any, Any]]:
    """_result_arrays(out)

    A result (array, tensor, dict of gradients, or tuples of them) as a flat list of
    NumPy arrays, in order.
    """
    if isinstance(out, dict):
        return [a for v in out.values() for a in _result_arrays(v)]
    if isinstance(out, tuple | list):
        return [a for v in out for a in _result_arrays(v)]
    if hasattr(out, "detach"):  # a torch tensor
        return [np.asarray(out.detach().numpy())]
    return [np.asarray(out)]


def check_sweep(calls: SweepCalls, out_reparam: object, out_peer: object, dtype: Any) -> None:
    """check_sweep(calls, out_reparam, out_peer, dtype)

    Raise AssertionError unless both results have the same number of arrays, each of
    the same shape, of `dtype` and finite, and reparam's matches ``calls.expected()``
    to rounding (relative to the largest magnitude).
    """
    dt = np.dtype(dtype)
    mine, theirs = _result_arrays(out_reparam), _result_arrays(out_peer)
    if len(mine) != len(theirs):
        raise AssertionError(f"reparam returned {len(mine)} arrays, the peer {len(theirs)}")
    for k, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        if a.shape != b.shape or a.dtype != dt or b.dtype != dt:
            raise AssertionError(f"result {k}: reparam {a.shape} {a.dtype}, peer {b.shape} {b.dtype}, "
                                 f"expected dtype {dt}")
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise AssertionError(f"result {k} is not finite")
    if calls.expected is None:
        return
    want = theirs if calls.expected is calls.peer else _result_arrays(calls.expected())
    tol = 1e-5 if dt == np.float32 else 1e-12
    for k, (a, b) in enumerate(zip(mine, want, strict=True)):
        scale = float(np.abs(b.astype(np.float64)).max()) if b.size else 0.0
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, err_msg=f"result {k}")


@dataclass
class SweepResult:
    """SweepResult(case, reparam, peer, n, shape, dtype, reparam_seconds, peer_seconds, ratio, ...)

    One row of the sweep: the medians of one case at one size and dtype.

    Attributes
    ----------
    case, reparam, peer : str
        The `SweepCase`'s name, call and hand-written expression.
    n : int
        Values per call.
    shape : list of int
        The batch shape (gradients have one more, leading, sample axis of 1).
    dtype : str
    reparam_seconds, peer_seconds : float
        Median seconds per call.
    ratio : float
        ``peer_seconds / reparam_seconds`` (above 1 = reparam faster).
    reparam_spread, peer_spread : float
        Interquartile range of the batch times over their median.
    repeats : int
        Timed batches per side.
    reparam_loops, peer_loops : int
        Calls per batch.
    reparam_times, peer_times : list of float
        Seconds per call of every batch.
    """

    case: str
    reparam: str
    peer: str
    n: int
    shape: list[int]
    dtype: str
    reparam_seconds: float
    peer_seconds: float
    ratio: float
    reparam_spread: float
    peer_spread: float
    repeats: int
    reparam_loops: int
    peer_loops: int
    reparam_times: list[float] = field(default_factory=list)
    peer_times: list[float] = field(default_factory=list)


def sweep_cases(torch: Any = None) -> list[SweepCase]:
    """sweep_cases(torch=None)

    The cases that can run: all but the torch one without `torch`.
    """
    return [c for c in SWEEP_CASES if torch is not None or not c.needs_torch]


def run_sweep(
    sizes: Sequence[int],
    dtypes: Sequence[str] = DTYPES,
    *,
    quick: bool = False,
    repeats: int | None = None,
    min_time: float | None = None,
    torch: Any = None,
    progress: Callable[[str], None] | None = None,
) -> list[SweepResult]:
    """run_sweep(sizes, dtypes=DTYPES, *, quick=False, repeats=None, min_time=None, torch=None, progress=None)

    Time every case of the sweep, reparam against its peer, at every size and dtype,
    on one thread (reparam's and torch's thread counts are restored afterwards).

    Each pair's results are checked against each other (`check_sweep`) first; then
    the two calls are warmed up, calibrated and their batches interleaved as in
    :func:`run_benchmarks`.

    Parameters
    ----------
    sizes : sequence of int
        Values per call (see `sweep_shape`).
    dtypes : sequence of str
    quick, repeats, min_time
        As in `BenchOptions`.
    torch : module, optional
        Also the torch case.
    progress : callable, optional
        Called with one line per (size, dtype).

    Returns
    -------
    list of SweepResult
        Ordered by case, then size, then dtype.
    """
    batch_time = min_time if min_time is not None else (0.005 if quick else 0.02)
    warm_time = 0.05 if quick else 0.2
    cases = sweep_cases(torch)
    saved_threads = get_num_threads()
    saved_torch = int(torch.get_num_threads()) if torch is not None else None
    results: list[SweepResult] = []
    groups = [(n, dtype) for n in sizes for dtype in dtypes]
    try:
        set_num_threads(1)
        if torch is not None:
            torch.set_num_threads(1)
        for i, (n, dtype) in enumerate(groups, 1):
            started = time.perf_counter()
            if progress is not None:
                progress(f"[{i}/{len(groups)}] n={_fmt_n(n)} {dtype}: {len(cases)} entry points")
            inp = sweep_inputs(n, dtype)
            reps = repeats if repeats is not None else _default_repeats(n, quick)
            for case in cases:
                calls = case.build(inp, torch)
                check_sweep(calls, calls.reparam(), calls.peer(), dtype)
                mine = _Candidate("reparam", case.reparam, "1", calls.reparam)
                theirs = _Candidate("peer", case.peer, "1", calls.peer)
                _time_candidates([mine, theirs], reps, warm_time, batch_time)
                r_sec, p_sec = statistics.median(mine.times), statistics.median(theirs.times)
                results.append(SweepResult(
                    case=case.name, reparam=case.reparam, peer=case.peer, n=n, shape=list(inp.shape),
                    dtype=dtype, reparam_seconds=r_sec, peer_seconds=p_sec, ratio=p_sec / r_sec,
                    reparam_spread=_spread(mine.times), peer_spread=_spread(theirs.times), repeats=reps,
                    reparam_loops=mine.loops, peer_loops=theirs.loops,
                    reparam_times=list(mine.times), peer_times=list(theirs.times),
                ))
            del inp
            if progress is not None:
                progress(f"      done in {time.perf_counter() - started:.1f} s")
    finally:
        set_num_threads(saved_threads)
        if torch is not None and saved_torch is not None:
            torch.set_num_threads(saved_torch)
    order = {c.name: k for k, c in enumerate(cases)}
    return sorted(results, key=lambda r: (order[r.case], r.n, DTYPES.index(r.dtype)))


def _fmt_us(seconds: float) -> str:
    """_fmt_us(seconds)

    Microseconds, about four significant digits.
    """
    return _fmt(seconds * 1e6)


def _format_sweep(results: Sequence[SweepResult]) -> str:
    """_format_sweep(results)

    One Markdown table per entry point, then the ratios by entry point and size, one
    table per dtype.
    """
    blocks: list[str] = []
    names = list(dict.fromkeys(r.case for r in results))
    for name in names:
        rows = [r for r in results if r.case == name]
        lines = [
            f"{name}: reparam `{rows[0].reparam}`, peer `{rows[0].peer}`",
            "",
            "| n | shape | dtype | reparam us | peer us | peer/reparam | IQR reparam / peer |",
            "|---:|:---|:---|---:|---:|---:|---:|",
        ]
        for r in rows:
            shape = "x".join(map(str, r.shape))
            lines.append(
                f"| {_fmt_n(r.n)} | {shape} | {r.dtype} | {_fmt_us(r.reparam_seconds)} "
                f"| {_fmt_us(r.peer_seconds)} | {r.ratio:.2f}x "
                f"| {r.reparam_spread * 100:.0f}% / {r.peer_spread * 100:.0f}% |"
            )
        blocks.append("\n".join(lines))
    sizes = sorted({r.n for r in results})
    for dtype in DTYPES:
        cells = {(r.case, r.n): r.ratio for r in results if r.dtype == dtype}
        if not cells:
            continue
        lines = [
            f"peer/reparam, {dtype} (> 1 = reparam faster)",
            "",
            "| entry point | " + " | ".join(_fmt_n(n) for n in sizes) + " |",
            "|:---|" + "---:|" * len(sizes),
        ]
        for name in names:
            row = [f"{cells[name, n]:.2f}x" if (name, n) in cells else "" for n in sizes]
            lines.append(f"| {name} | " + " | ".join(row) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _format_sweep_markdown(results: Sequence[SweepResult]) -> str:
    """_format_sweep_markdown(results)

    The ratio tables of `_format_sweep`, then one table of every median.
    """
    names = list(dict.fromkeys(r.case for r in results))
    text = _format_sweep(results)
    start = text.find("peer/reparam, ")
    ratios = [text[start:]] if start >= 0 else []
    lines = [
        "| entry point | n | dtype | reparam us | peer us | peer/reparam |",
        "|:---|---:|:---|---:|---:|---:|",
    ]
    for name in names:
        for r in (r for r in results if r.case == name):
            lines.append(f"| {name} | {_fmt_n(r.n)} | {r.dtype} | {_fmt_us(r.reparam_seconds)} "
                         f"| {_fmt_us(r.peer_seconds)} | {r.ratio:.2f}x |")
    return "\n\n".join([*ratios, "medians in us per call\n\n" + "\n".join(lines)])


def _sweep_main(args: argparse.Namespace, args_list: Sequence[str], progress: Callable[[str], None]) -> int:
    """_sweep_main(args, args_list, progress)

    ``python -m reparam bench --sizes-sweep``: run the sweep and print its tables.
    """
    for flag, given in (("--threads", args.threads is not None), ("--all-paths", args.all_paths),
                        ("--out", args.out), ("--plot", args.plot is not None)):
        if given:
            print(f"error: {flag} does not apply to --sizes-sweep (one thread, each call "
                  "allocating its result, no plot)", file=sys.stderr)
            return 2
    torch = _optional_module("torch") if "torch" in args.libs else None
    if "torch" in args.libs and torch is None:
        progress("torch is not installed: no reparam.torch.rsample rows")
    sizes = list(args.sizes or (SWEEP_QUICK_SIZES if args.quick else SWEEP_SIZES))
    batch = args.min_time if args.min_time is not None else (0.005 if args.quick else 0.02)
    reps = (
        f"{args.repeats} timed batches"
        if args.repeats is not None
        else ("7/5/3" if args.quick else "21/15/7") + " timed batches for n <= 10**5 / <= 10**6 / larger"
    )
    settings = (
        f"one thread (reparam and torch); median of {reps} (time.perf_counter), each call "
        f"warmed up first and reparam's and the peer's batches interleaved; small n loops "
        f"calls to >= {batch * 1e3:g} ms per batch; every call allocates its result; "
        "shape (n/20, 20), gradients with a leading sample axis of 1; the two results "
        "checked against each other first; peer/reparam > 1 = reparam faster"
    )
    command = shlex.join(["python", "-m", "reparam", "bench", *args_list])
    info = _machine_info(torch, None)
    progress(f"measuring {len(sweep_cases(torch))} entry points x {len(sizes)} sizes x {len(args.dtypes)} dtypes ...")
    started = time.perf_counter()
    results = run_sweep(sizes, args.dtypes, quick=args.quick, repeats=args.repeats, min_time=args.min_time,
                        torch=torch, progress=progress)
    progress(f"total {time.perf_counter() - started:.1f} s")
    if args.markdown:
        print(_markdown_header(command, info, settings))
        print()
        print(_format_sweep_markdown(results))
    else:
        print(_format_header(command, info, settings))
        print()
        print(_format_sweep(results))
    sys.stdout.flush()
    if args.json:
        _write_json(args.json, command, info, settings, results)
        progress(f"wrote {args.json}")
    return 0


def _write_json(path: str, command: str, info: Any, settings: Any, results: Sequence[Any]) -> None:
    """The --json file of a run: the command, the machine, the settings and every result."""
    payload = {"command": command, "machine": info, "settings": settings, "results": [asdict(r) for r in results]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)


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

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.sizes_sweep:
        return _sweep_main(args, args_list, progress)

    plt: Any = None
    if args.plot:
        try:
            plt = _import_pyplot()
        except ImportError as exc:
            print(f"error: --plot: {exc}", file=sys.stderr)
            return 2
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

    if args.markdown:
        print(_markdown_header(command, info, settings))
        print()
        print(_format_markdown(results))
    else:
        print(_format_header(command, info, settings))
        print()
        print(_format_tables(results))
    sys.stdout.flush()

    if args.json:
        _write_json(args.json, command, info, settings, results)
        progress(f"wrote {args.json}")
    if args.plot:
        _plot(results, args.plot, plot_title(command, info), plt)
        progress(f"wrote {args.plot}")
    return 0
