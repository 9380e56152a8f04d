"""Run the sandbox on a real socket: in a background thread for tests and the demo, or in the
foreground from the command line (``python -m koppel.sandbox.itslearning``).

The socket handling is shared with the other sandboxes (:mod:`koppel.sandbox.serving`).
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
from koppel.sandbox.serving import BackgroundServer, base_url, bind, serve_in_foreground

from .app import create_app
from .config import DEFAULT_PASSWORD, DEFAULT_QUEUE_LIMIT_OPS, DEFAULT_USERNAME, FailMode, SandboxConfig
from .operations import Endpoint

__all__ = ["DEFAULT_PORT", "SandboxServer", "main"]

DEFAULT_PORT = 8470
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 15.0


class SandboxServer:
    """The sandbox served by uvicorn in a background thread. Restartable on the same database."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0):
        self.config = config
        self.host = host
        self.requested_port = port
        self.url = ""
        """``http://host:port`` while running (a restart with port 0 may pick a new port)."""
        self._runner = BackgroundServer(
            "itslearning sandbox", startup_timeout_s=STARTUP_TIMEOUT_S, shutdown_timeout_s=SHUTDOWN_TIMEOUT_S
        )

    @property
    def running(self) -> bool:
        return self._runner.running

    def start(self) -> Self:
        if self.running:
            raise SandboxError(f"the itslearning sandbox already runs at {self.url}")
        try:
            listener = bind(self.host, self.requested_port)
        except OSError as error:
            raise SandboxError(f"cannot listen on {self.host}:{self.requested_port}: {error}") from error
        self._runner.start(_uvicorn_config(self.config, log_level="warning"), listener)
        self.url = base_url(self.host, listener.getsockname()[1])
        return self

    def stop(self) -> None:
        self._runner.stop()

    def endpoint(self, name: str) -> str:
        """The URL of an endpoint: ``pms``, ``epms``, ``gms``, ``mms`` or ``combined``."""
        return self.url + Endpoint.named(name).path

    def stats(self) -> dict[str, Any]:
        return self._get("/sandbox/api/stats")

    def objects(self) -> dict[str, Any]:
        return self._get("/sandbox/api/objects")

    def reset(self) -> None:
        """Empty the sandbox (sandbox-only route ``POST /sandbox/api/reset``)."""
        httpx.post(self.url + "/sandbox/api/reset", timeout=10).raise_for_status()

    def _get(self, path: str) -> dict[str, Any]:
        response = httpx.get(self.url + path, timeout=10)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def _uvicorn_config(config: SandboxConfig, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config), log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )


# ---------------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m koppel.sandbox.itslearning",
        description="Run koppel's local emulator of itslearning's IMS Enterprise Services v1.0 (SOAP 1.1).",
    )
    _add_server_options(parser)
    _add_fault_options(parser)
    _add_capacity_options(parser)
    _add_site_options(parser)
    _add_login_options(parser)
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return parser


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    """Where the sandbox listens and where it keeps the site."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument("--db", default="itslearning-sandbox.db", help="SQLite file (kept across restarts)")


def _add_fault_options(parser: argparse.ArgumentParser) -> None:
    """Trouble injected into requests: latency, failures before or after writing, refused objects."""
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="latency added to every admitted SOAP request, after its operations were processed",
    )
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="fraction of requests failing with HTTP 500"
    )
    parser.add_argument(
        "--fail-mode",
        choices=[mode.value for mode in FailMode],
        default=FailMode.MIXED.value,
        help="before: nothing written; after: written, answer lost; mixed: either (default)",
    )
    parser.add_argument(
        "--permanent-fail-rate",
        type=float,
        default=0.0,
        help="fraction of objects always refused (invaliddata)",
    )


def _add_capacity_options(parser: argparse.ArgumentParser) -> None:
    """How much the site takes: batch size, throughput, its queue and what it answers when full."""
    parser.add_argument(
        "--max-batch",
        type=int,
        default=50,
        metavar="OPS",
        help="requests with more operations are processed and counted in batches_over_50 "
        "(itslearning discourages more than 50; default 50)",
    )
    parser.add_argument(
        "--capacity",
        type=float,
        default=None,
        metavar="OPS_PER_S",
        help="operations the site processes a second, one FIFO queue (default: unlimited)",
    )
    parser.add_argument(
        "--queue-limit",
        type=int,
        default=DEFAULT_QUEUE_LIMIT_OPS,
        metavar="OPS",
        help="with --capacity: unprocessed operations the queue holds before it answers HTTP 503 "
        f"(default {DEFAULT_QUEUE_LIMIT_OPS})",
    )
    parser.add_argument(
        "--retry-after",
        type=int,
        default=None,
        metavar="S",
        help="send Retry-After: S with every 503 (default: no header, as IIS)",
    )
    parser.add_argument(
        "--max-operations-in-flight",
        type=int,
        default=None,
        metavar="N",
        help="strict mode for tests: HTTP 503 for a request that would make more than N operations "
        "unanswered (default: off)",
    )


def _add_site_options(parser: argparse.ArgumentParser) -> None:
    """What the site accepts and refuses (profiles, poisoned sync ids, the seed of the faults) and where its hierarchy starts."""
    parser.add_argument(
        "--profiles",
        default="",
        metavar="NAMES",
        help="comma-separated profile names the site accepts as institutionRoleType besides the 2017 "
        "enumeration, e.g. 'System Administrator,AICC' (default: none)",
    )
    parser.add_argument(
        "--poison",
        action="append",
        default=[],
        metavar="SYNC_ID",
        help="injected trouble: a request naming this sync id fails as a whole with HTTP 500 "
        "(InternalServiceFault), every time; repeatable",
    )
    # Removed: the sandbox no longer refuses by concurrent requests (itslearning documents no such
    # answer). Accepted and ignored, with a warning, so that old scripts keep running.
    parser.add_argument("--max-in-flight", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help="seed for fault injection (default 0)")
    parser.add_argument(
        "--site-root",
        default="koppel-root",
        help="sync id the site's root hierarchy starts with, as an admin would set it (default koppel-root; "
        "'' = none: a client creates the Site)",
    )


def _add_login_options(parser: argparse.ArgumentParser) -> None:
    """The credentials the site accepts."""
    parser.add_argument(
        "--username", default=DEFAULT_USERNAME, help=f"accepted username (default {DEFAULT_USERNAME})"
    )
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help=f"environment variable holding the accepted password (default password: {DEFAULT_PASSWORD})",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.max_in_flight is not None:
        print(
            "warning: --max-in-flight is ignored: the sandbox no longer refuses by concurrent requests; "
            "see --capacity and --max-operations-in-flight",
            file=sys.stderr,
        )
    password, password_source = DEFAULT_PASSWORD, f"the default password '{DEFAULT_PASSWORD}'"
    if args.password_env:
        password = os.environ.get(args.password_env, "")
        password_source = f"the password in ${args.password_env}"
        if not password:
            print(f"error: environment variable {args.password_env} is not set or empty", file=sys.stderr)
            return 2
    try:
        config = SandboxConfig(
            db_path=args.db,
            username=args.username,
            password=password,
            latency_ms=args.latency_ms,
            fail_rate=args.fail_rate,
            fail_mode=args.fail_mode,
            permanent_fail_rate=args.permanent_fail_rate,
            max_batch=args.max_batch,
            capacity_ops_per_s=args.capacity,
            queue_limit_ops=args.queue_limit,
            retry_after_s=args.retry_after,
            max_operations_in_flight=args.max_operations_in_flight,
            extra_institution_roles=_profiles(args.profiles),
            poison_keys=tuple(args.poison),
            seed=args.seed,
            site_root=args.site_root or None,
        )
        listener = bind(args.host, args.port)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    url = base_url(args.host, listener.getsockname()[1])
    _print_banner(url, config, password_source)
    serve_in_foreground(_uvicorn_config(config, log_level=args.log_level), listener)
    print("itslearning sandbox stopped.", flush=True)
    return 0


def _profiles(names: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in names.split(",") if name.strip())


def _print_banner(url: str, config: SandboxConfig, password_source: str) -> None:
    capacity = (
        "unlimited"
        if config.capacity_ops_per_s is None
        else f"{config.capacity_ops_per_s:g} operations/s, 503 above {config.queue_limit_ops} queued"
    )
    if config.max_operations_in_flight is not None:
        capacity += f"; 503 above {config.max_operations_in_flight} operations in flight (strict)"
    lines = [
        f"itslearning sandbox (IMS ES v1.0 emulator, not itslearning) on {url}",
        *(f"  {endpoint.short_name:<9} {url}{endpoint.path}" for endpoint in Endpoint),
        f"  pages     {url}/sandbox/",
        f"  database  {config.db_path}",
        f"  login     username '{config.username}', {password_source}",
        f"  site root {config.site_root or '(none: create the Site first)'}",
        f"  capacity  {capacity}",
        f"  profiles  {', '.join(config.extra_institution_roles) or '(the 2017 enumeration only)'}",
        "Ctrl-C stops it.",
    ]
    print("\n".join(lines), flush=True)
