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
    """A temporary Prefect API server for one run, started without importing Prefect.

    It is the same ``uvicorn ... prefect.server.api.server:create_app`` process that
    Prefect's own ephemeral mode starts, but launched first thing so that it boots
    while the CLI imports Prefect and camel-tools (~3 s saved), and shared through
    ``PREFECT_API_URL`` with every worker process instead of one server per worker.
    """

    def __init__(self) -> None:
        import importlib.util
        import socket
        import subprocess
        import sys

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        spec = importlib.util.find_spec("prefect")
        app_dir = os.path.dirname(os.path.dirname(spec.origin))
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                app_dir,
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=env,
        )
        self.api_url = f"http://127.0.0.1:{self.port}/api"

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Block until the server answers its health check.

        Raises:
            EnvironmentError_: the server exited or did not answer in time.
        """
        import time
        import urllib.request

        from tasks.errors import EnvironmentError_

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EnvironmentError_(
                    f"the temporary Prefect server exited with code {self.process.returncode}"
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise EnvironmentError_(
            f"the temporary Prefect server on port {self.port} did not start in {timeout_s:.0f} s;"
            " start one with `prefect server start` and set PREFECT_API_URL"
        )

    def settings(self):
        """Prefect settings pointing at this server (also when Prefect was imported earlier)."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        return temporary_settings(updates={PREFECT_API_URL: self.api_url})

    def stop(self) -> None:
        import subprocess

        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class _UserServer:
    api_url = os.environ.get("PREFECT_API_URL", "")

    def wait_ready(self, timeout_s: float = 0) -> None:
        return None

    def settings(self):
        return nullcontext()


@contextmanager
def prefect_api():
    """Use the user's ``PREFECT_API_URL``, or start one local server for the whole run.

    Call ``wait_ready()`` on the yielded server before the first Prefect call; import
    Prefect in between so that its start-up overlaps the server's.
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
