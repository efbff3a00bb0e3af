"""The parameterizations of a Normal's spread, by name: the core's table
(``_core.PARAM_NAMES``, whose index is the kind the kernels take). The one place in Python
that maps names to kinds; `Normal`, `reparam.dask` and `reparam.torch` use it."""

from __future__ import annotations

from typing import Any

from . import _core

__all__ = ["KIND", "PARAMS", "param_kind"]

#: Names in the core's order: ``PARAMS[kind]`` is the name of kind ``kind``.
PARAMS: tuple[str, ...] = tuple(_core.PARAM_NAMES)
#: Name to kind.
KIND: dict[str, int] = {name: kind for kind, name in enumerate(PARAMS)}


def param_kind(name: Any, argument: str = "param") -> int:
    """param_kind(name, argument="param")

    The core's kind for parameterization `name`; TypeError or ValueError naming
    `argument` and the valid names otherwise.
    """
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a str, one of {', '.join(map(repr, PARAMS))}, got "
                        f"{type(name).__name__}")
    try:
        return KIND[name]
    except KeyError:
        raise ValueError(f"{argument} must be one of {', '.join(map(repr, PARAMS))}, got {name!r}") from None
