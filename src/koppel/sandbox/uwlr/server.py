"""Run the UWLR sandbox on a real socket: in a background thread for tests and the demo, or in the
foreground from the command line (``python -m koppel.sandbox.uwlr``, ``koppel sandbox uwlr``).

The socket handling is shared with the other sandboxes (:mod:`koppel.sandbox.serving`). The app is made here too, so that the test or demo
that started the sandbox can look at what it serves and what it was asked, in-process. With
``tls_cert_file`` the sandbox speaks HTTPS, and with ``client_ca_file`` it also demands a client
certificate signed by that CA, as ESIS does.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette

from koppel.errors import ConfigError, SandboxError
from koppel.model.roster import SchoolYear
from koppel.sandbox.serving import BackgroundServer, base_url, bind, serve_in_foreground

from .app import ENDPOINT_PATH, Sandbox, create_app
from .config import DEFAULT_SLEUTEL, Failure, SandboxConfig

__all__ = ["DEFAULT_PORT", "SandboxServer", "main"]

DEFAULT_PORT = 8471
STARTUP_TIMEOUT_S = 15.0
SHUTDOWN_TIMEOUT_S = 15.0


class SandboxServer:
    """The UWLR sandbox served by uvicorn in a background thread."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0):
        self.config = config
        self.host = host
        self.requested_port = port
        self.url = ""
        """``http(s)://host:port`` while running."""
        self._runner = BackgroundServer(
            "UWLR sandbox", startup_timeout_s=STARTUP_TIMEOUT_S, shutdown_timeout_s=SHUTDOWN_TIMEOUT_S
        )
        self._app: Starlette | None = None

    @property
    def running(self) -> bool:
        return self._runner.running

    @property
    def endpoint(self) -> str:
        """The URL to POST ``HaalLeerlinggegevens`` to."""
        return self.url + ENDPOINT_PATH

    def start(self) -> Self:
        if self.running:
            raise SandboxError(f"the UWLR sandbox already runs at {self.url}")
        try:
            listener = bind(self.host, self.requested_port)
        except OSError as error:
            raise SandboxError(f"cannot listen on {self.host}:{self.requested_port}: {error}") from error
        app = create_app(self.config)
        self._runner.start(_uvicorn_config(app, self.config, log_level="warning"), listener)
        self._app = app
        self.url = base_url(self.host, listener.getsockname()[1], https=self.config.https)
        return self

    def stop(self) -> None:
        self._runner.stop()
        self._app = None

    # -- what the sandbox serves and saw (in-process: the sandbox runs in this process) ----------

    def schools(self) -> list[dict[str, Any]]:
        """The schools of the current year: brin6, name and counts (as ``GET /sandbox/api/schools``)."""
        schools: list[dict[str, Any]] = self.sandbox.schools_summary()["schools"]
        return schools

    def stats(self) -> dict[str, Any]:
        return self.sandbox.stats()

    def requests(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest requests, newest first."""
        return self.sandbox.log.recent(limit)

    def reset(self) -> None:
        """Empty the request log and restart the fault RNG from the seed."""
        self.sandbox.reset()

    @property
    def sandbox(self) -> Sandbox:
        if self._app is None:
            raise SandboxError("the UWLR sandbox is not running")
        sandbox: Sandbox = self._app.state.sandbox
        return sandbox

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _uvicorn_config(app: Starlette, config: SandboxConfig, log_level: str) -> uvicorn.Config:
    tls: dict[str, Any] = {}
    if config.https:
        tls = {"ssl_certfile": str(config.tls_cert_file), "ssl_keyfile": str(config.tls_key_file)}
        if config.client_ca_file is not None:
            tls |= {"ssl_ca_certs": str(config.client_ca_file), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=5, **tls
    )


# ---------------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="koppel sandbox uwlr",
        description="Run koppel's local emulator of a LAS's UWLR 2.2/2.3 leerlinggegevens service "
        "(SOAP 1.1), "
        "serving generated Dutch schools.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument(
        "--students", type=int, default=300, help="pupils of the generated bestuur (default 300)"
    )
    parser.add_argument("--schools", type=int, default=1, help="schools (BRIN6) of the bestuur (default 1)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the generated data and the faults (default 0)"
    )
    parser.add_argument(
        "--year",
        help="the LAS's current school year, e.g. 2025-2026 (default: the year containing "
        "today); the next year is served too",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="fraction of requests that fail on purpose"
    )
    parser.add_argument(
        "--failure",
        choices=[f.value for f in Failure],
        default=Failure.TIJDELIJK_NIET_BESCHIKBAAR.value,
        help="how a request fails: SOAP fault Server.TijdelijkNietBeschikbaar (default), a bare "
        "HTTP 500, an answer cut off halfway, or an answer without leerlingen",
    )
    parser.add_argument(
        "--sleutel-env",
        metavar="VAR",
        help="environment variable holding the autorisatiesleutel "
        f"accepted for every school (default sleutel: {DEFAULT_SLEUTEL})",
    )
    parser.add_argument("--db", help="SQLite file for the request log (default: in memory)")
    parser.add_argument("--tls-cert", help="PEM server certificate: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM key of --tls-cert")
    parser.add_argument(
        "--client-ca", help="with HTTPS: require a client certificate signed by this CA (as ESIS)"
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sleutel, sleutel_source = DEFAULT_SLEUTEL, f"the default sleutel '{DEFAULT_SLEUTEL}'"
    if args.sleutel_env:
        sleutel = os.environ.get(args.sleutel_env, "")
        sleutel_source = f"the sleutel in ${args.sleutel_env}"
        if not sleutel:
            print(f"error: environment variable {args.sleutel_env} is not set or empty", file=sys.stderr)
            return 2
    try:
        year = SchoolYear.parse(args.year) if args.year else None
        config = SandboxConfig(
            students=args.students,
            schools=args.schools,
            seed=args.seed,
            year=year,
            sleutel=sleutel,
            latency_ms=args.latency_ms,
            fail_rate=args.fail_rate,
            failure=args.failure,
            db_path=args.db,
            tls_cert_file=args.tls_cert,
            tls_key_file=args.tls_key,
            client_ca_file=args.client_ca,
        )
        listener = bind(args.host, args.port)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    app = create_app(config)
    url = base_url(args.host, listener.getsockname()[1], https=config.https)
    _print_banner(url, app.state.sandbox, config, sleutel_source)
    serve_in_foreground(_uvicorn_config(app, config, log_level=args.log_level), listener)
    print("UWLR sandbox stopped.", flush=True)
    return 0


def _print_banner(url: str, sandbox: Sandbox, config: SandboxConfig, sleutel_source: str) -> None:
    year = sandbox.data.year(sandbox.data.current)
    lines = [
        f"UWLR sandbox (emulates a LAS's UWLR leerlinggegevens service; not a real LAS) on {url}",
        f"  endpoint  {url}{ENDPOINT_PATH}  (SOAPAction: HaalLeerlinggegevens)",
        f"  years     {', '.join(str(y) for y in sandbox.data.served_years)}",
        *(
            f"  school    {brin6}  {s.school.name}  "
            f"({len(s.pupils)} leerlingen, {len(s.teachers)} leerkrachten)"
            for brin6, s in sorted(year.schools.items())
        ),
        f"  sleutel   {sleutel_source}; any klantcode and klantnaam",
        *([f"  faults    {config.fail_rate:.0%} of requests: {config.failure}"] if config.fail_rate else []),
        *([f"  client certificate required (CA {config.client_ca_file})"] if config.client_ca_file else []),
        "Ctrl-C stops it.",
    ]
    print("\n".join(lines), flush=True)
