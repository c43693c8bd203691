"""Shared test set-up: offline Prefect in a throwaway home, and the ``../shared`` locator.

The environment is set when this module is imported, before any test module imports
prefect, because Prefect reads ``PREFECT_HOME`` and its telemetry switches when its
settings are first built. Values the user already exported are left alone, except
``PREFECT_HOME``, which is always private so tests never touch ``~/.prefect``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A cold Prefect home migrates its SQLite database on first start; on a busy
# 2-core machine that can exceed Prefect's default 20 s server start-up wait.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
_PREFECT_HOME = tempfile.mkdtemp(prefix="akhbar-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME


@pytest.fixture(scope="session", autouse=True)
def _offline_prefect_home() -> Iterator[Path]:
    """The session's private ``PREFECT_HOME`` (set at import), removed at the end."""
    yield Path(_PREFECT_HOME)
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (holds ``data/samples``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` next to the repository; skips the test when it is missing."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is missing (tests marked shared need the real corpus)")
    return SHARED_DIR
