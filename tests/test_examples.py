"""The worked example examples/quadratic.py runs, writes its plot and prints what it claims.

It is run as a user would (a subprocess, ``python examples/quadratic.py --out ... --seed 0``);
its printed table is parsed and checked against the analytic values: for x ~ N(theta, 1),
estimating dL/dtheta = 2 theta of L = E[x**2], the per-sample variance is 4 (pathwise) and
theta**4 + 14 theta**2 + 15 (score function), and the variance of an n-sample mean is
that divided by n.

Tolerances (the run is seeded, so the numbers are fixed; these say how far they may be
from the truth): per-sample variances pool reps * n = 200000 samples (relative standard
error under 3% even for the heavy-tailed score terms): within 10%; the empirical variance
of the mean uses 2000 repetitions (relative standard error sqrt(2/2000) = 3.2%): within
20%; the means within 5 of their printed standard errors of 2 theta.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quadratic.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROW = re.compile(r"^(pathwise|score)\s+(-?\d+\.\d+)\s+" + r"\s+".join([r"(-?\d+\.\d+)"] * 7) + r"\s*$")
FINAL = re.compile(r"^final theta \((pathwise|score)\):.*rms = (\d+\.\d+)")

# cibuildwheel copies only tests/ (and pyproject.toml) next to the installed wheel
pytestmark = pytest.mark.skipif(not EXAMPLE.is_file(), reason=f"{EXAMPLE} is not here (tests copied without examples/)")


def run_example(args: list[str], cwd: Path, block_matplotlib: bool = False) -> subprocess.CompletedProcess[str]:
    if block_matplotlib:  # as if matplotlib were not installed
        code = ("import runpy, sys; sys.modules['matplotlib'] = None; "
                f"sys.argv = [{str(EXAMPLE)!r}] + {args!r}; "
                f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')")
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, str(EXAMPLE), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def table_rows(stdout: str) -> list[dict[str, float | str]]:
    rows: list[dict[str, float | str]] = []
    for line in stdout.splitlines():
        m = ROW.match(line)
        if m:
            keys = ["theta", "mean", "two_theta", "se", "var_sample", "var_sample_true", "var_mean", "var_mean_true"]
            row: dict[str, float | str] = {"estimator": m.group(1)}
            row.update({k: float(v) for k, v in zip(keys, m.groups()[1:], strict=True)})
            rows.append(row)
    return rows


def analytic(estimator: str, theta: float) -> float:
    return 4.0 if estimator == "pathwise" else theta**4 + 14 * theta**2 + 15


def test_quadratic_example(tmp_path: Path) -> None:
    out = tmp_path / "quad.png"
    proc = run_example(["--out", str(out), "--seed", "0"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    stdout = proc.stdout

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in stdout
    else:
        assert out.is_file(), stdout
        assert out.read_bytes()[:8] == PNG_MAGIC
        assert out.stat().st_size > 10_000

    rows = table_rows(stdout)
    thetas = sorted({float(r["theta"]) for r in rows})
    assert len(rows) == 26 and len(thetas) == 13 and thetas[0] == -3.0 and thetas[-1] == 3.0
    n = int(re.search(r"n = (\d+) samples per estimate", stdout).group(1))  # type: ignore[union-attr]
    for r in rows:
        est, theta = str(r["estimator"]), float(r["theta"])
        a = analytic(est, theta)
        # the printed analytic columns are the formulas
        assert r["var_sample_true"] == pytest.approx(a, abs=1e-3)
        assert r["var_mean_true"] == pytest.approx(a / n, abs=1e-5)
        assert r["two_theta"] == pytest.approx(2 * theta, abs=1e-3)
        # the estimates agree with them
        assert abs(float(r["mean"]) - 2 * theta) <= 5 * float(r["se"]) + 1e-4, r
        assert float(r["var_sample"]) == pytest.approx(a, rel=0.10), r
        assert float(r["var_mean"]) == pytest.approx(a / n, rel=0.20), r
    # score's variance grows as theta**4; pathwise's does not
    by = {(r["estimator"], r["theta"]): float(r["var_sample"]) for r in rows}
    assert by[("score", 3.0)] > 10 * by[("score", 0.0)]
    assert all(by[("score", t)] > 3 * by[("pathwise", t)] for t in thetas)

    finals = {m.group(1): float(m.group(2)) for line in stdout.splitlines() if (m := FINAL.match(line))}
    assert set(finals) == {"pathwise", "score"}
    assert finals["pathwise"] < finals["score"]


def test_quadratic_example_without_matplotlib(tmp_path: Path) -> None:
    """matplotlib is optional: a message, no file, exit 0; the same seed prints the same table."""
    out = tmp_path / "none.png"
    args = ["--out", str(out), "--seed", "3", "--reps", "200", "--steps", "20"]
    proc = run_example(args, tmp_path, block_matplotlib=True)
    assert proc.returncode == 0, proc.stderr
    assert "matplotlib is not installed" in proc.stdout
    assert not out.exists()
    again = run_example(args, tmp_path, block_matplotlib=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout == proc.stdout
    assert len(table_rows(proc.stdout)) == 26
