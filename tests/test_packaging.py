"""What an installed reparam carries, however it was built (wheel, sdist or checkout).

One version (python/reparam/_version.py, also the distribution's metadata version), the
typing files (py.typed and the _core.pyi stub), every SIMD path of the interpreter's
architecture compiled in (no global instruction-set flag leaves one out), the best path
the CPU supports selected at import, and REPARAM_CPU choosing any other supported one.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import reparam
from reparam import _core

# The paths a build for each architecture must contain, lowest first.
EXPECTED_PATHS = {
    "x86_64": ["scalar", "sse2", "avx2", "avx512"],
    "aarch64": ["scalar", "neon"],
}


def _interpreter_arch() -> str:
    """The architecture this interpreter (and so the extension) was built for.

    Not the machine's: a 32-bit Python on a 64-bit OS, an x86-64 Python under Rosetta or
    under Windows-on-Arm emulation, all load extensions of their own architecture.
    """
    plat = sysconfig.get_platform().lower()
    if plat.startswith("win"):
        return {"win-amd64": "x86_64", "win-arm64": "aarch64"}.get(plat, plat)
    if struct.calcsize("P") != 8:
        return "32-bit"
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _simd_info_at_import(**env: str) -> dict[str, object]:
    """reparam.simd_info() in a fresh interpreter, with REPARAM_CPU unset unless given."""
    child_env = {k: v for k, v in os.environ.items() if k != "REPARAM_CPU"}
    child_env.update(env)
    res = subprocess.run(
        [sys.executable, "-c", "import json, reparam; print(json.dumps(reparam.simd_info()))"],
        env=child_env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert res.returncode == 0, res.stderr
    info: dict[str, object] = json.loads(res.stdout.strip().splitlines()[-1])
    return info


def test_version_has_one_source() -> None:
    from reparam import _version

    assert reparam.__version__ is _version.__version__
    assert reparam.__version__ == importlib.metadata.version("reparam")


def test_typing_files_are_installed() -> None:
    package = Path(reparam.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_core.pyi").is_file()


def test_every_simd_path_of_the_architecture_is_compiled() -> None:
    arch = _interpreter_arch()
    compiled = list(_core.compiled_targets())
    if arch not in EXPECTED_PATHS:
        assert compiled[0] == "scalar"
        pytest.skip(f"no SIMD paths are defined for {arch}; compiled: {compiled}")
    assert compiled == EXPECTED_PATHS[arch]


def test_the_best_supported_path_is_selected_at_import() -> None:
    info = _simd_info_at_import()
    compiled, supported = info["compiled"], info["supported"]
    assert isinstance(compiled, list) and isinstance(supported, list)
    assert supported and supported[0] == "scalar"
    assert set(supported) <= set(compiled)
    assert supported == [t for t in compiled if t in supported]  # lowest first
    baseline = {"x86_64": "sse2", "aarch64": "neon"}.get(_interpreter_arch())
    if baseline is not None:  # part of the architecture: every CPU of it has the path
        assert baseline in supported
    assert info["selected"] == supported[-1]
    assert _core.best_target() == supported[-1]


@pytest.mark.parametrize("target", list(_core.supported_targets()))
def test_reparam_cpu_selects_any_supported_path(target: str) -> None:
    assert _simd_info_at_import(REPARAM_CPU=target)["selected"] == target
