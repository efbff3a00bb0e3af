"""Where a call goes when its inputs are Dask arrays. `reparam.dask` registers its entry
points here when it is imported; the in-memory layer looks them up by name (loading
`reparam.dask` on first use), so no module below `reparam.dask` imports it. A leaf
module: the standard library only."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["dask_entry", "register_dask"]

_DASK: dict[str, Callable[..., Any]] = {}


def register_dask(**entries: Callable[..., Any]) -> None:
    """register_dask(**entries)

    Called by `reparam.dask` at import: ``Normal``, ``rsample``, ``pathwise_grad`` and
    ``score_grad`` taking Dask arrays.
    """
    _DASK.update(entries)


def dask_entry(name: str) -> Callable[..., Any]:
    """dask_entry(name)

    The `reparam.dask` entry point `name`, importing `reparam.dask` (which needs the
    ``dask`` extra) the first time one is needed.
    """
    if name not in _DASK:
        importlib.import_module(f"{__package__}.dask")  # registers its entry points
    return _DASK[name]
