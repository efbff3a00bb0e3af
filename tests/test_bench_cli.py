"""``python -m reparam bench``: the README's main command, on tiny sizes (timings are not
checked, only what the table and the JSON say and how the rows are ordered)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import reparam
from reparam import _bench


def test_cli_prints_the_tables_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "reparam", "bench", "--sizes", "1000", "2e5", "--threads", "1", "2",
         "--mt-min-size", "1e5", "--libs", "reparam", "numpy", "--repeats", "2", "--min-time", "0.001",
         "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    assert proc.stdout.startswith("$ python -m reparam bench --sizes 1000 2e5")
    assert "standard_normal, float32" in proc.stdout and "standard_normal, float64" in proc.stdout
    assert "[1/" in proc.stderr  # progress goes to stderr
    payload = json.loads(out.read_text())
    rows = [(r["dtype"], r["n"], r["group_threads"], r["library"]) for r in payload["results"]]
    expected = [
        (dt, n, t, lib)
        for dt in ("float32", "float64")
        for n, ts in ((1000, (1,)), (200000, (1, 2)))
        for t in ts
        for lib in ("reparam", "numpy")
    ]
    assert rows == expected
    for r in payload["results"]:
        assert r["ns_per_value"] > 0 and len(r["times"]) == 2
        if r["library"] == "numpy":
            assert r["vs_numpy"] == 1.0


def test_jax_rows_come_from_a_second_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """JAX is timed after every other row (with its own NumPy baseline) and its rows are
    put back in their groups; reparam rows never share a pass with it."""
    calls: list[str] = []

    def fake_jax_candidate(jax: Any, n: int, dtype: str) -> Any:
        calls.append(f"jax-candidate {dtype} {n}")
        return _bench._Candidate("jax", "fake jax", "xla", lambda: calls.append("jax-call"))

    real_reparam = _bench._reparam_candidates

    def reparam_candidates(*args: Any) -> Any:
        calls.append("reparam-candidate")
        return real_reparam(*args)

    monkeypatch.setattr(_bench, "_jax_candidate", fake_jax_candidate)
    monkeypatch.setattr(_bench, "_reparam_candidates", reparam_candidates)
    options = _bench.BenchOptions(
        sizes=[10, 1000], threads=[1, 2], dtypes=["float32"], libs=["reparam", "numpy", "jax"],
        all_paths=False, use_out=False, quick=True, repeats=2, min_time=0.0005, mt_min_size=1000,
    )
    results = _bench.run_benchmarks(options, jax=object())
    # every reparam group first, then the JAX groups (one thread count only)
    assert calls.index("jax-candidate float32 10") > max(i for i, c in enumerate(calls) if c == "reparam-candidate")
    rows = [(r.n, r.group_threads, r.library) for r in results]
    assert rows == [
        (10, 1, "reparam"), (10, 1, "numpy"), (10, 1, "jax"),
        (1000, 1, "reparam"), (1000, 1, "numpy"), (1000, 1, "jax"),
        (1000, 2, "reparam"), (1000, 2, "numpy"),
    ]
    assert all(r.vs_numpy is not None and r.vs_numpy > 0 for r in results)
    assert reparam.get_num_threads() >= 1
