"""Shared fixtures: the SIMD path and the thread count, each restored after the test.

``REPARAM_REQUIRE`` (space-separated module names, set by .ci/run for its extras step):
the session stops at once if any of them cannot be imported, so that the tests which
``importorskip`` them cannot pass by skipping.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest

import reparam
from reparam import _core

SUPPORTED_TARGETS = tuple(_core.supported_targets())


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = []
    for name in os.environ.get("REPARAM_REQUIRE", "").split():
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
    if missing:
        raise pytest.UsageError(f"REPARAM_REQUIRE lists modules that do not import: {', '.join(missing)}")


@pytest.fixture(params=SUPPORTED_TARGETS, ids=[f"simd={t}" for t in SUPPORTED_TARGETS])
def simd_target(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with each SIMD path this CPU supports selected; restore the previous one."""
    previous = _core.selected_target()
    assert _core.select_target(request.param), f"cannot select {request.param}"
    try:
        yield request.param
    finally:
        assert _core.select_target(previous)


@pytest.fixture
def num_threads() -> Iterator[int]:
    """The thread count at the start of the test (the value yielded), restored afterwards."""
    previous = reparam.get_num_threads()
    try:
        yield previous
    finally:
        reparam.set_num_threads(previous)
