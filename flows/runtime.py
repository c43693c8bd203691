"""Process set-up shared by the CLI, the flow and worker processes: offline by default."""

from __future__ import annotations

import os
from contextlib import contextmanager

_OFFLINE = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The UI would otherwise try to reach the internet for its own telemetry.
    "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true"),
}


def prepare_environment() -> None:
    """Offline Prefect settings (unless the user set them) and a usable camel-tools catalogue."""
    for key, value in _OFFLINE.items():
        os.environ.setdefault(key, value)
    from tasks.camel_env import ensure_camel_data

    ensure_camel_data()


STARTUP_TIMEOUT_S = 120


@contextmanager
def prefect_api():
    """Use the user's ``PREFECT_API_URL`` or start one local server for the whole run.

    Prefect's own ephemeral mode would start a separate temporary server in every
    worker process; one server shared through ``PREFECT_API_URL`` keeps the run in
    one place and lets the CLI wait until the server has recorded every task run.
    """
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = SubprocessASGIServer()
    # A cold PREFECT_HOME (database migrations) on a busy machine needs more than 20 s.
    server.start(timeout=STARTUP_TIMEOUT_S)
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
            _drain_logs()
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def _drain_logs() -> None:
    """Flush pending Prefect logs and events before the temporary server stops."""
    try:
        from prefect.logging.handlers import APILogHandler

        APILogHandler.flush()
    except Exception:  # noqa: BLE001 - best effort: the run's results are already written
        pass
    try:
        from prefect.events.worker import EventsWorker

        EventsWorker.drain_all(timeout=5)
    except Exception:  # noqa: BLE001
        pass
