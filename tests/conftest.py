"""Hypothesis profiles: ``ci`` (the default) keeps the laws under a minute on two cores.

Pick another with ``HYPOTHESIS_PROFILE=thorough pytest tests/properties``.
"""

from __future__ import annotations

import os

from hypothesis import settings

# No deadline: example sizes vary a lot, and a slow CI box must not turn into a flaky test.
settings.register_profile("ci", deadline=None, max_examples=150)
settings.register_profile("thorough", deadline=None, max_examples=2_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- real servers on loopback -----------------------------------------------------------------

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from safemerge._server import JitServer  # noqa: E402
from tests.support.servers import jit_server_thread  # noqa: E402

TOKEN = "t0ken-for-tests-8f3a"

BASIC = """\
# Jit integration file, for tests.
aws:
- account_id: '123456789012'
  account_name: prod-main
  regions:
  - us-east-1
  type: account
drata:
  user_email: security@example.com
  workspace: production
"""


@pytest.fixture
def integration_file(tmp_path: Path) -> Path:
    path = tmp_path / "jit-integration.yml"
    path.write_text(BASIC)
    return path


@pytest.fixture
def jit_server(integration_file: Path) -> Iterator[JitServer]:
    """``safemerge serve`` (in a thread) over a small integration file, requiring ``TOKEN``."""
    with jit_server_thread(integration_file, token=TOKEN) as server:
        yield server
