"""Fixtures shared by the benchmark files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


@pytest.fixture
def torch_1thread() -> Iterator[Any]:
    """The torch module on one intra-op thread (skips without torch); restored after."""
    torch = pytest.importorskip("torch")
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield torch
    finally:
        torch.set_num_threads(saved)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--sweep-sizes",
        default="default",
        help="sizes of test_bench_sizes.py: default (10**2, 10**4, 10**6), all (10**2 to 10**7) "
        "or a comma-separated list such as 1e3,10**5",
    )
