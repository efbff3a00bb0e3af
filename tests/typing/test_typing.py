"""Static typing of the installed package: mypy --strict on check_types.py.

Runs mypy in a subprocess against the reparam this interpreter imports, so that against
an installed wheel it also checks that the wheel ships py.typed and the _core.pyi stub.
Skipped when mypy is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

import reparam

SNIPPET = Path(__file__).with_name("check_types.py")


def _mypy_path() -> str | None:
    """The directory holding the reparam package, when mypy cannot find it by itself.

    An installed package lives in site-packages, which mypy searches. A source-tree or
    editable import (reparam.__file__ under python/) is found through MYPYPATH instead.
    """
    parent = Path(reparam.__file__).resolve().parent.parent
    site_dirs = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    return None if parent in site_dirs else str(parent)


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_public_api_types(tmp_path: Path) -> None:
    config = tmp_path / "mypy.ini"  # the project's [tool.mypy] is for python/reparam
    config.write_text("[mypy]\n")
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    if (path := _mypy_path()) is not None:
        env["MYPYPATH"] = path
    cmd = [
        sys.executable, "-m", "mypy", "--strict", "--config-file", str(config),
        "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", "--show-error-codes",
        str(SNIPPET),
    ]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    report = f"$ {' '.join(cmd)}\nMYPYPATH={env.get('MYPYPATH', '')}\n{res.stdout}{res.stderr}"
    assert res.returncode == 0, report
