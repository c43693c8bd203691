"""Process set-up shared by the CLI, the flow and worker processes: offline by default."""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext

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


class LocalServer:
    """A temporary Prefect API server for one run, served from a thread of this process.

    It is the app Prefect's own ephemeral mode runs (``create_app(ephemeral=True)``:
    the REST API over the SQLite database in ``PREFECT_HOME``, no UI, no background
    services) under uvicorn on 127.0.0.1, but in this process instead of a separate
    ``uvicorn`` interpreter (issue 21): the server shares the Prefect modules the CLI
    has imported anyway, so there is no second interpreter to start and about 150 MB
    less PSS. Workers and Dask workers reach it through ``PREFECT_API_URL`` like any
    server; the UI can be pointed at the same database afterwards (``run_link``).
    """

    def __init__(self) -> None:
        import socket

        # Bound now and handed to uvicorn, so no other process can take the port between.
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self._server = None
        self._thread = None

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Start the server's thread and block until it serves requests.

        Raises:
            EnvironmentError_: the server stopped or did not start in time.
        """
        import threading
        import time

        import uvicorn
        from prefect.server.api.server import create_app

        from tasks.errors import EnvironmentError_

        config = uvicorn.Config(
            create_app(ephemeral=True, final=True),
            log_level="error",
            lifespan="on",  # database migrations and block registration, as Prefect does
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="prefect-api",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                raise EnvironmentError_(
                    "the temporary Prefect server stopped while starting; start one with"
                    " `prefect server start` and set PREFECT_API_URL"
                )
            if time.monotonic() > deadline:
                raise EnvironmentError_(
                    f"the temporary Prefect server on port {self.port} did not start in"
                    f" {timeout_s:.0f} s; start one with `prefect server start` and set"
                    " PREFECT_API_URL"
                )
            time.sleep(0.02)

    def settings(self):
        """Prefect settings pointing at this server (also when Prefect was imported earlier)."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        return temporary_settings(updates={PREFECT_API_URL: self.api_url})

    def stop(self) -> None:
        """Shut the server down (its lifespan closes the database) and free the port."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
            if self._thread.is_alive():  # a request still open: stop without waiting for it
                self._server.force_exit = True
                self._thread.join(timeout=2)
        self._socket.close()


class _UserServer:
    api_url = os.environ.get("PREFECT_API_URL", "")

    def wait_ready(self, timeout_s: float = 0) -> None:
        return None

    def settings(self):
        return nullcontext()


@contextmanager
def prefect_api():
    """Use the user's ``PREFECT_API_URL``, or start one local server for the whole run.

    Call ``wait_ready()`` on the yielded server before the first Prefect call.
    """
    if os.environ.get("PREFECT_API_URL"):
        yield _UserServer()
        return
    server = LocalServer()
    os.environ["PREFECT_API_URL"] = server.api_url  # read by Prefect when it is imported
    try:
        yield server
    finally:
        # Also when the run failed: log lines left queued would otherwise be sent at exit
        # to the stopped server, retried for over a minute ("Error logging to API").
        _drain_logs()
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()
        _stop_api_logging()


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


def _stop_api_logging() -> None:
    """Send no more log lines to an API that is gone (the temporary server has stopped)."""
    try:
        from prefect.logging.handlers import APILogHandler

        for logger in _loggers():
            for handler in list(logger.handlers):
                if isinstance(handler, APILogHandler):
                    logger.removeHandler(handler)
    except Exception:  # noqa: BLE001 - best effort at shutdown
        pass


def _loggers():
    import logging

    yield logging.getLogger()
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            yield logger


def set_console_log_level(level: str | None) -> None:
    """Lowest level Prefect's console handler prints, for this and every worker process.

    Only the console handler: the API handler still sends every log line to the
    Prefect UI. Set in the environment, before Prefect configures logging, because
    the process pool's workers are new processes that configure it themselves.
    """
    if level is None:
        return
    os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = level
    if level == "DEBUG":
        os.environ["PREFECT_LOGGING_LEVEL"] = "DEBUG"


UI_PORT = 4200


def run_link(server, flow_run_id) -> str | None:
    """How to open this flow run in the Prefect UI, as lines to print after the run.

    A user's server (``PREFECT_API_URL``) gets its direct link. The temporary server
    is gone once the command exits, but the run stays in the Prefect database it
    wrote to: give the command that serves a UI over that database, and the link there.
    """
    if flow_run_id is None:
        return None
    path = f"/runs/flow-run/{flow_run_id}"
    if not isinstance(server, LocalServer):
        ui = os.environ.get("PREFECT_UI_URL") or server.api_url.rstrip("/").removesuffix("/api")
        return f"run in the Prefect UI: {ui}{path}" if ui else None
    import shlex
    import sys
    from pathlib import Path

    from prefect.settings import get_current_settings

    settings = get_current_settings()
    url = settings.server.database.connection_url
    database = url.get_secret_value() if url is not None else ""
    where = database.split("///", 1)[-1] if database.startswith("sqlite") else "its database"
    env = [f"{k}={shlex.quote(v)}" for k, v in _OFFLINE.items() if k != "PREFECT_UI_ENABLED"]
    for key in ("PREFECT_HOME", "PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_PROFILES_PATH"):
        if os.environ.get(key):
            env.append(f"{key}={shlex.quote(os.environ[key])}")
    prefect = Path(sys.executable).with_name("prefect")
    try:
        prefect = prefect.relative_to(Path.cwd())
    except ValueError:
        pass
    command = " ".join(
        [*env, shlex.quote(str(prefect)), "server", "start", "--host", "127.0.0.1"]
        + ["--port", str(UI_PORT)]
    )
    return (
        f"this run is kept in the Prefect database {where}; to browse it in the UI, run\n"
        f"  {command}\n"
        f"and open http://127.0.0.1:{UI_PORT}{path}"
    )
