"""Run the Somtoday sandbox on a real socket: in a background thread (tests, the demo) or in the
foreground from the command line (``python -m koppel.sandbox.somtoday``, ``koppel sandbox somtoday``).

The listening socket is bound here, before uvicorn starts, so that port 0 ("any free port") works
and the URLs are known the moment ``start()`` returns.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn

from koppel.errors import ConfigError, SandboxError
from koppel.generator import Bestuur
from koppel.model.roster import SchoolYear
from koppel.sandbox.serving import BackgroundServer, base_url, bind, serve_in_foreground

from .app import API_PREFIX, Sandbox, create_app
from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig, parse_hidden

__all__ = ["DEFAULT_PORT", "SandboxServer", "main"]

DEFAULT_PORT = 8471
STARTUP_TIMEOUT_S = 15.0
SHUTDOWN_TIMEOUT_S = 10.0


class SandboxServer:
    """The sandbox served by uvicorn in a background thread."""

    def __init__(
        self,
        config: SandboxConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        current: Bestuur | None = None,
        following: Bestuur | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.requested_port = port
        self.current = current
        self.following = following
        self.url = ""
        """``http://host:port`` while running."""
        self._runner = BackgroundServer(
            "Somtoday sandbox", startup_timeout_s=STARTUP_TIMEOUT_S, shutdown_timeout_s=SHUTDOWN_TIMEOUT_S
        )
        self._sandbox: Sandbox | None = None

    # -- what a client needs --------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The Connect base URL, as ``api_url`` in koppel's settings: ``http://…/rest/v1``."""
        return self.url + API_PREFIX

    @property
    def token_url(self) -> str:
        return self.url + "/oauth2/token"

    @property
    def instelling(self) -> str:
        """The UUID of the emulated instelling (the ``organisation`` of the token request)."""
        return self._started().instelling_uuid

    def vestiging(self, brin6: str) -> str:
        """The UUID of the vestiging with this BRIN6."""
        return self._started().ids.vestiging(brin6)

    def stats(self) -> dict[str, Any]:
        response = httpx.get(self.url + "/sandbox/api/stats", timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def reset(self) -> None:
        """Counters, tokens and the fault sequence afresh (the served data stays)."""
        httpx.post(self.url + "/sandbox/api/reset", timeout=10).raise_for_status()

    # -- life cycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._runner.running

    def _started(self) -> Sandbox:
        """The sandbox's state; its identities stay readable after stop()."""
        if self._sandbox is None:
            raise SandboxError("the Somtoday sandbox has not been started")
        return self._sandbox

    def start(self) -> Self:
        if self.running:
            raise SandboxError(f"the Somtoday sandbox already runs at {self.url}")
        app = create_app(self.config, current=self.current, following=self.following)
        try:
            listener = bind(self.host, self.requested_port)
        except OSError as error:
            raise SandboxError(f"cannot listen on {self.host}:{self.requested_port}: {error}") from error
        self._runner.start(
            uvicorn.Config(
                app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2
            ),
            listener,
        )
        self._sandbox = app.state.sandbox
        self.url = base_url(self.host, listener.getsockname()[1])
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m koppel.sandbox.somtoday",
        description="Run koppel's local emulator of Somtoday Connect (OAuth2 token endpoint + REST API) "
        "serving a generated bestuur.",
    )
    _add_server_options(parser)
    _add_data_options(parser)
    _add_fault_options(parser)
    _add_token_options(parser)
    _add_client_options(parser)
    parser.add_argument(
        "--hide",
        action="append",
        default=[],
        metavar="TYPE.FIELD",
        help="withhold a field as a missing veldpermissie, e.g. leerling.emailadres (repeatable)",
    )
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Where the sandbox listens."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    """The generated bestuur it serves: its size, seed and school year, and where the records are kept."""
    parser.add_argument(
        "--students", type=int, default=400, help="pupils of the generated bestuur (default 400)"
    )
    parser.add_argument(
        "--schools", type=int, default=2, help="schools (vestigingen) of the bestuur (default 2)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the data, the UUIDs and the faults (default 0)"
    )
    parser.add_argument(
        "--year",
        default=None,
        help="the current school year, e.g. 2026-2027 (default: today's); VOLGEND serves the next",
    )
    parser.add_argument("--db", default=None, help="SQLite file for the served records (default: in memory)")


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    """Trouble injected into API requests: latency, HTTP 500, a spurious 401, JSON cut off."""
    parser.add_argument("--latency-ms", type=float, default=0.0, help="latency added to every request")
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="fraction of API requests failing with HTTP 500"
    )
    parser.add_argument(
        "--unauthorized-rate",
        type=float,
        default=0.0,
        help="fraction of API requests refused with HTTP 401 although the token is valid",
    )
    parser.add_argument(
        "--malformed-rate",
        type=float,
        default=0.0,
        help="fraction of API requests answered with JSON cut off halfway",
    )


def _add_token_options(parser: argparse.ArgumentParser) -> None:
    """The OAuth2 tokens: how long they work and what the token response claims."""
    parser.add_argument(
        "--token-ttl-s", type=float, default=3600.0, help="how long a token works (default 3600)"
    )
    parser.add_argument(
        "--advertised-ttl-s",
        type=float,
        default=None,
        help="expires_in the token response claims (default: the true lifetime)",
    )


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    """The credentials the token endpoint accepts."""
    parser.add_argument(
        "--client-id", default=DEFAULT_CLIENT_ID, help=f"accepted client id (default {DEFAULT_CLIENT_ID})"
    )
    parser.add_argument(
        "--client-secret-env",
        metavar="VAR",
        help=f"environment variable holding the accepted client secret (default: '{DEFAULT_CLIENT_SECRET}')",
    )


def _config(args: argparse.Namespace) -> tuple[SandboxConfig, str]:
    secret, secret_source = DEFAULT_CLIENT_SECRET, f"the default secret '{DEFAULT_CLIENT_SECRET}'"
    if args.client_secret_env:
        secret = os.environ.get(args.client_secret_env, "")
        secret_source = f"the secret in ${args.client_secret_env}"
        if not secret:
            raise ConfigError(f"environment variable {args.client_secret_env} is not set or empty")
    try:
        year = SchoolYear.parse(args.year) if args.year else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    config = SandboxConfig(
        students=args.students,
        schools=args.schools,
        seed=args.seed,
        year=year,
        db_path=args.db,
        client_id=args.client_id,
        client_secret=secret,
        token_ttl_s=args.token_ttl_s,
        advertised_ttl_s=args.advertised_ttl_s,
        latency_ms=args.latency_ms,
        fail_rate=args.fail_rate,
        unauthorized_rate=args.unauthorized_rate,
        malformed_rate=args.malformed_rate,
        hidden_fields=parse_hidden(args.hide),
    )
    return config, secret_source


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config, secret_source = _config(args)
        app = create_app(config)
        listener = bind(args.host, args.port)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # the generator refuses a year outside its range
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    url = base_url(args.host, listener.getsockname()[1])
    _print_banner(url, config, app.state.sandbox, secret_source)
    serve_in_foreground(
        uvicorn.Config(
            app, log_level=args.log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=2
        ),
        listener,
    )
    print("Somtoday sandbox stopped.", flush=True)
    return 0


def _print_banner(url: str, config: SandboxConfig, sandbox: Sandbox, secret_source: str) -> None:
    lines = [
        f"Somtoday Connect sandbox (emulator, not Somtoday) on {url}",
        f"  api_url     {url}{API_PREFIX}",
        f"  token_url   {url}/oauth2/token",
        f"  instelling  {sandbox.instelling_uuid}",
        f"  school year {config.current_year} (HUIDIG), {config.current_year.next()} (VOLGEND)",
        f"  client      id '{config.client_id}', {secret_source}",
        f"  tokens      live {config.token_ttl_s:g}s",
        "Ctrl-C stops it.",
    ]
    print("\n".join(lines), flush=True)
