"""Issue 15's soak: 8 threads drawing mixed sizes and dtypes, forks every few seconds,
thread-count changes and a daemon thread at exit, for 10 minutes (REPARAM_SOAK_SECONDS
changes it), in a subprocess with a timeout: nothing hung, crashed or lost."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).parent / "soak" / "soak_script.py"


def run_soak(seconds: float, fork_every: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(seconds), str(fork_every)], capture_output=True,
                          text=True, timeout=seconds + 300)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.slow
def test_soak() -> None:
    seconds = float(os.environ.get("REPARAM_SOAK_SECONDS", "600"))
    r = run_soak(seconds, 3.0)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    assert "SOAK OK" in r.stdout
    assert "terminate called" not in r.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_soak_short() -> None:
    """Twenty seconds of the same, in the default run."""
    r = run_soak(20.0, 2.0)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-3000:]}"
    assert "SOAK OK" in r.stdout
