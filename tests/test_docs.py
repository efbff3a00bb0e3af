"""docs/parameterizations.md: its examples run and print what the page shows, and the README
links to it."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "parameterizations.md"
README = ROOT / "README.md"

pytestmark = pytest.mark.skipif(not PAGE.exists(), reason="needs the source tree (docs/)")


def test_parameterizations_page_examples() -> None:
    """Every ``>>>`` example of the page, with doctest (outputs are rounded and seeded)."""
    result = doctest.testfile(
        str(PAGE),
        module_relative=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
        raise_on_error=False,
        verbose=False,
        report=True,
    )
    assert result.attempted >= 20, f"only {result.attempted} examples found in {PAGE.name}"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed (see above)"


def test_parameterizations_page_covers_the_question() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for equation in ("mu + sigma * eps", "mu + sqrt(exp(s)) * eps", "mu + exp(s / 2) * eps"):
        assert equation in text, equation
    for name in ("scale", "var", "logvar", "logstd", "softplus"):
        assert re.search(rf"^\| `{name}`", text, re.MULTILINE), f"table row for {name}"
    assert "torch.randn_like" in text and "rng.standard_normal" in text  # hand-written versions


def test_readme_links_to_parameterizations_page() -> None:
    """README.md must link to docs/parameterizations.md (a Markdown link to that path)."""
    readme = README.read_text(encoding="utf-8")
    assert re.search(r"\]\((\./)?docs/parameterizations\.md(#[^)]*)?\)", readme), (
        "README.md has no link to docs/parameterizations.md"
    )
