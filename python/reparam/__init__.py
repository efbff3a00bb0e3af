"""reparam: fast, exact and reproducible Gaussian reparameterization.

A counter-based Philox4x32-10 stream and a SIMD normal transform in which every
value is a function of (key, position) alone, behind a NumPy-compatible API.
"""

from __future__ import annotations

try:
    from . import _core  # noqa: F401  (fail early, with instructions)
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "reparam's compiled core (reparam._core) could not be imported. Install the "
        "package with `pip install .` from a source checkout (a C++17 compiler is "
        f"needed) rather than importing the source tree. Original error: {exc}"
    ) from exc

from ._estimate import estimate_grad
from ._generator import Generator, default_rng
from ._normal import Noise, Normal, reparameterize
from ._philox import Philox
from ._runtime import _apply_environment, get_num_threads, set_num_threads, show_config, simd_info
from ._version import __version__

_apply_environment()

__all__ = [
    "Generator",
    "Noise",
    "Normal",
    "Philox",
    "__version__",
    "default_rng",
    "estimate_grad",
    "get_num_threads",
    "reparameterize",
    "set_num_threads",
    "show_config",
    "simd_info",
]


def __dir__() -> list[str]:
    return __all__
