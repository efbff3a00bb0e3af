"""One table of parameterizations (issue 14): the core's, checked at every entry point,
and one Python module mapping names to it."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

import reparam
from reparam import _core


def test_names_come_from_the_core() -> None:
    from reparam._params import KIND, PARAMS

    assert PARAMS == ("scale", "var", "logvar", "logstd", "softplus")
    assert PARAMS == tuple(_core.PARAM_NAMES)
    assert [KIND[n] for n in PARAMS] == [_core.PARAM_SCALE, _core.PARAM_VAR, _core.PARAM_LOGVAR,
                                         _core.PARAM_LOGSTD, _core.PARAM_SOFTPLUS]


@pytest.mark.parametrize("bad", [-1, 5, 99])
def test_every_entry_point_refuses_an_unknown_kind(bad: int) -> None:
    """Before: sigma, dsigma's callers and closed_form took any int as softplus."""
    one = np.ones(3)
    with pytest.raises(ValueError, match="kind must be a parameterization in"):
        _core.sigma(one, bad, np.empty(3))
    with pytest.raises(ValueError, match="kind must be a parameterization in"):
        _core.closed_form(1, bad, one, one, None, None, 0, False)
    with pytest.raises(ValueError, match="other_kind must be a parameterization in"):
        _core.closed_form(2, 0, one, one, one, one, bad, False)
    with pytest.raises(ValueError, match="kind must be a parameterization in"):
        _core.dsigma(one, bad, np.empty(3))
    with pytest.raises(ValueError, match="kind must be a parameterization in"):
        _core.affine_normal(reparam.Philox(0)._state, one, one, bad, False, np.empty(3))


def test_reparameterize_and_torch_name_the_argument() -> None:
    with pytest.raises(ValueError, match="param must be one of 'scale'"):
        reparam.reparameterize(0.0, 1.0, "sigma", rng=0)
    with pytest.raises(TypeError, match="param must be a str"):
        reparam.reparameterize(0.0, 1.0, 3, rng=0)  # type: ignore[arg-type]


def test_one_module_holds_the_names() -> None:
    pkg = pathlib.Path(reparam.__file__).parent
    table = re.compile(r"""[(\[{]\s*["']scale["'],\s*["']var["'],\s*["']logvar["']""")
    holders = [f.name for f in sorted(pkg.glob("*.py")) if table.search(f.read_text())]
    assert holders == [], holders  # not even _params.py: it reads _core.PARAM_NAMES
