"""``python -m reparam bench``: the README's main command, on tiny sizes (timings are not
checked, only what the table and the JSON say and how the rows are ordered)."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
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


def test_sizes_sweep_prints_a_table_per_entry_point(tmp_path: Path) -> None:
    """``--sizes-sweep`` on tiny sizes: the header, one table per entry point, the ratio
    tables, and a JSON row per (entry point, size, dtype) with ratio = peer / reparam."""
    out = tmp_path / "sweep.json"
    proc = subprocess.run(
        [sys.executable, "-m", "reparam", "bench", "--sizes-sweep", "--quick", "--sizes", "30", "200",
         "--repeats", "2", "--min-time", "0.0005", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )
    assert proc.stdout.startswith("$ python -m reparam bench --sizes-sweep --quick --sizes 30 200")
    assert "machine: " in proc.stdout and "timing:  one thread" in proc.stdout
    assert "[1/4] n=30 float32" in proc.stderr  # progress goes to stderr
    payload = json.loads(out.read_text())
    torch_rows = any(r["case"] == "torch_rsample" for r in payload["results"])
    cases = [c for c in _bench.SWEEP_CASES if torch_rows or not c.needs_torch]
    assert torch_rows == ("no reparam.torch.rsample rows" not in proc.stderr)
    rows = [(r["case"], r["n"], r["shape"], r["dtype"]) for r in payload["results"]]
    assert rows == [
        (c.name, n, shape, dt)
        for c in cases
        for n, shape in ((30, [30]), (200, [10, 20]))
        for dt in ("float32", "float64")
    ]
    for c in cases:
        assert f"{c.name}: reparam `{c.reparam}`, peer `{c.peer}`" in proc.stdout
        assert f"| {c.name} | " in proc.stdout  # its row of the ratio tables
    assert "| 200 | 10x20 | float64 | " in proc.stdout
    for dt in ("float32", "float64"):
        assert f"peer/reparam, {dt} (> 1 = reparam faster)" in proc.stdout
    for r in payload["results"]:
        assert len(r["reparam_times"]) == len(r["peer_times"]) == 2
        assert r["ratio"] == pytest.approx(r["peer_seconds"] / r["reparam_seconds"])


def test_sizes_sweep_refuses_options_that_do_not_apply(capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--threads", "2"], ["--out"], ["--all-paths"], ["--plot", "x.png"]):
        assert _bench.main(["--sizes-sweep", *extra]) == 2
        assert f"{extra[0]} does not apply to --sizes-sweep" in capsys.readouterr().err


def test_sizes_sweep_pairs_compute_the_same_thing() -> None:
    """Every case's two calls agree (shapes, dtype, and the values where they are not
    random), and the check fails on a peer that computes something else."""
    torch = _bench._optional_module("torch")
    for dtype in ("float32", "float64"):
        inp = _bench.sweep_inputs(100, dtype)
        for case in _bench.sweep_cases(torch):
            calls = case.build(inp, torch)
            _bench.check_sweep(calls, calls.reparam(), calls.peer(), dtype)
    inp = _bench.sweep_inputs(100, "float32")
    kl = next(c for c in _bench.SWEEP_CASES if c.name == "kl_standard_normal").build(inp, None)
    wrong = _bench.SweepCalls(kl.reparam, lambda: (inp.mu, inp.mu, inp.mu), None)
    wrong.expected = wrong.peer
    with pytest.raises(AssertionError):
        _bench.check_sweep(wrong, wrong.reparam(), wrong.peer(), "float32")
    wide = _bench.SweepCalls(kl.reparam, lambda: [a.astype("float64") for a in _bench._result_arrays(kl.peer())],
                             None)
    with pytest.raises(AssertionError, match="dtype"):
        _bench.check_sweep(wide, wide.reparam(), wide.peer(), "float32")


def _markdown_table(text: str, first_cell: str) -> list[list[str]]:
    """The rows (cells stripped) of the Markdown table whose header starts with `first_cell`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_cell} |"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        assert line.endswith("|"), line
        table.append([c.strip() for c in line[1:-1].split("|")])
    header, rule, *rows = table
    assert len(rule) == len(header) and all(set(c) <= set(":-") and "-" in c for c in rule), rule
    assert all(len(r) == len(header) for r in rows), table
    return [header, *rows]


def test_markdown_names_the_machine_and_prints_one_table() -> None:
    """``--markdown``: a paragraph naming the command, date, CPU, cores, SIMD path and
    versions, then one table with a row per (n, dtype, threads) and a column per library."""
    proc = subprocess.run(
        [sys.executable, "-m", "reparam", "bench", "--markdown", "--sizes", "1000", "2e5", "--threads", "1", "2",
         "--mt-min-size", "1e5", "--libs", "reparam", "numpy", "--repeats", "2", "--min-time", "0.001"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    head = proc.stdout.splitlines()[0]
    cmd = "python -m reparam bench --markdown --sizes 1000 2e5 --threads 1 2"
    assert head.startswith(f"Measured with `{cmd}"), head
    assert f"**{_bench._cpu_model()}**" in head and _bench._cpu_model() not in ("", "unknown CPU")
    selected = reparam.simd_info()["selected"]
    assert f"SIMD path `{selected}`" in head
    assert f"Python {platform.python_version()}, NumPy {np.__version__}" in head
    assert re.search(r" on \d{4}-\d\d-\d\d \d\d:\d\d UTC: ", head) and re.search(r"\(\d+ cores", head)
    header, *rows = _markdown_table(proc.stdout, "n")
    assert header == ["n", "dtype", "threads", f"reparam ({selected}) ns/value", "numpy ns/value",
                      "reparam vs NumPy"]
    assert [r[:3] for r in rows] == [[n, dt, t] for dt in ("float32", "float64")
                                     for n, t in (("1000", "1"), ("200000", "1"), ("200000", "2"))]
    for r in rows:
        assert float(r[3]) > 0 and float(r[4].replace(",", "")) > 0 and r[5].endswith("x")
        assert float(r[5][:-1]) > 0


def test_markdown_sizes_sweep() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reparam", "bench", "--sizes-sweep", "--markdown", "--sizes", "40", "--dtypes",
         "float64", "--libs", "reparam", "numpy", "--repeats", "2", "--min-time", "0.0005"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    head = proc.stdout.splitlines()[0]
    assert head.startswith("Measured with `python -m reparam bench --sizes-sweep --markdown")
    assert f"**{_bench._cpu_model()}**" in head and f"SIMD path `{reparam.simd_info()['selected']}`" in head
    cases = [c.name for c in _bench.sweep_cases(None)]
    header, *rows = _markdown_table(proc.stdout, "entry point")
    assert header == ["entry point", "40"] and [r[0] for r in rows] == cases
    assert all(r[1].endswith("x") and float(r[1][:-1]) > 0 for r in rows)
    header, *rows = _markdown_table(proc.stdout.split("medians in us per call")[1], "entry point")
    assert header == ["entry point", "n", "dtype", "reparam us", "peer us", "peer/reparam"]
    assert [(r[0], r[1], r[2]) for r in rows] == [(c, "40", "float64") for c in cases]
