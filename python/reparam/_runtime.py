"""Which SIMD path runs, and on how many threads."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from . import _core
from ._version import __version__

__all__ = ["get_num_threads", "set_num_threads", "show_config", "simd_info"]

# Each worker holds a stack and wakes on every parallel call: far more threads than cores
# only cost, and an unbounded count exhausts the process's threads (or overflows C int).
MAX_THREADS = 1024


def simd_info() -> dict[str, Any]:
    """simd_info()

    The SIMD paths as a dict: "compiled" (in this build, lowest first),
    "supported" (by this CPU) and "selected" (the one in use).
    """
    return {
        "compiled": list(_core.compiled_targets()),
        "supported": list(_core.supported_targets()),
        "selected": _core.selected_target(),
    }


def get_num_threads() -> int:
    """get_num_threads()

    Threads a large request is split over (the calling thread included).
    """
    return int(_core.get_num_threads())


def set_num_threads(n: int) -> None:
    """set_num_threads(n)

    Use `n` threads (``n >= 1``) for large requests. Results do not depend on it.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"n must be at most {MAX_THREADS}, got {n}")
    _core.set_num_threads(n)


def show_config() -> None:
    """show_config()

    Print the version, the compiled, supported and selected SIMD paths, and the
    thread count.
    """
    info = simd_info()
    lines = [
        f"reparam {__version__}",
        f"  python:    {sys.version.split()[0]}",
        f"  compiled:  {', '.join(info['compiled'])}",
        f"  supported: {', '.join(info['supported'])}",
        f"  selected:  {info['selected']}"
        + (f" (REPARAM_CPU={os.environ['REPARAM_CPU']})" if "REPARAM_CPU" in os.environ else ""),
        f"  threads:   {get_num_threads()} (cores available: {_core.available_cores()})",
    ]
    print("\n".join(lines))


def _apply_environment() -> None:
    """Honour REPARAM_CPU and REPARAM_NUM_THREADS at import."""
    cpu = os.environ.get("REPARAM_CPU", "").strip().lower()
    if cpu:
        supported = list(_core.supported_targets())
        if cpu not in supported:
            warnings.warn(
                f"REPARAM_CPU={cpu!r} is not a compiled path this CPU supports "
                f"(choose from {', '.join(supported)}); using {_core.selected_target()!r}",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            _core.select_target(cpu)
    threads = os.environ.get("REPARAM_NUM_THREADS", "").strip()
    if threads:
        try:
            n = int(threads)
            if not 1 <= n <= MAX_THREADS:
                raise ValueError
        except ValueError:
            warnings.warn(
                f"REPARAM_NUM_THREADS must be an integer in [1, {MAX_THREADS}], got {threads!r}; "
                f"using {get_num_threads()}",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            set_num_threads(n)
