"""Fixtures shared by the benchmark files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import reparam


@pytest.fixture
def one_thread() -> Iterator[None]:
    """reparam on one thread; the previous count is restored afterwards."""
    saved = reparam.get_num_threads()
    reparam.set_num_threads(1)
    try:
        yield
    finally:
        reparam.set_num_threads(saved)
