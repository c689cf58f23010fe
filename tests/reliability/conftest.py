"""The reliability suite: ``soak`` tests run only when asked for.

They are skipped unless ``-m`` selects them (``pytest -m soak tests/reliability``)
or ``SAFEMERGE_SOAK=1`` is set; everything else here is sized for CI
(the whole directory in about a minute and a half on two cores).
"""

from __future__ import annotations

import os

import pytest


def _soak_wanted(config: pytest.Config) -> bool:
    if os.environ.get("SAFEMERGE_SOAK") == "1":
        return True
    expression = str(config.getoption("markexpr") or "")
    return "soak" in expression and "not soak" not in expression


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("soak") is not None and not _soak_wanted(item.config):
        pytest.skip("a soak test: run with -m soak or SAFEMERGE_SOAK=1")
