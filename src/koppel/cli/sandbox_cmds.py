"""`koppel sandbox …`: run the local emulators of the outside systems (for the demo, tests and trying out)."""

from __future__ import annotations

from typing import Annotated

import typer

from koppel.cli.main import app

sandbox_app = typer.Typer(help="Run a local emulator of an outside system (itslearning, UWLR, Somtoday).",
                          no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("itslearning")
def sandbox_itslearning(
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0 = any free port).")] = 8470,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    db: Annotated[str, typer.Option("--db", help="SQLite file that keeps the sandbox's contents.")] = "itslearning-sandbox.db",
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Latency added to every request.")] = 0.0,
    fail_rate: Annotated[float, typer.Option("--fail-rate", help="Fraction of requests answered with HTTP 500.")] = 0.0,
    fail_mode: Annotated[str, typer.Option("--fail-mode", help="before | after | mixed: whether a failed request "
                                           "was written before its answer was lost.")] = "mixed",
    permanent_fail_rate: Annotated[float, typer.Option("--permanent-fail-rate", help="Fraction of objects always "
                                                       "refused with invaliddata.")] = 0.0,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Requests with more operations are processed and "
                                           "counted in batches_over_50 (itslearning discourages more than 50).")] = 50,
    capacity: Annotated[float | None, typer.Option("--capacity", metavar="OPS_PER_S", help="Operations the site "
                                                   "processes a second, one FIFO queue (default: unlimited).")] = None,
    queue_limit: Annotated[int, typer.Option("--queue-limit", metavar="OPS", help="With --capacity: unprocessed "
                                             "operations queued before it answers HTTP 503.")] = 100,
    retry_after: Annotated[int | None, typer.Option("--retry-after", metavar="S", help="Send Retry-After: S with "
                                                    "every 503 (default: no header, as IIS).")] = None,
    max_operations_in_flight: Annotated[int | None, typer.Option("--max-operations-in-flight", metavar="N",
                                                                 help="Strict mode for tests: HTTP 503 for a request "
                                                                 "that would leave more than N operations "
                                                                 "unanswered.")] = None,
    profiles: Annotated[str, typer.Option("--profiles", metavar="NAMES", help="Comma-separated profile names accepted "
                                          "as institutionRoleType besides the 2017 enumeration, e.g. "
                                          "'System Administrator,AICC'.")] = "",
    seed: Annotated[int, typer.Option("--seed", help="Seed for the fault injection.")] = 0,
    site_root: Annotated[str, typer.Option("--site-root", help="Sync id the site root starts with (as an "
                                           "itslearning admin sets it); matches the target's site_root.")] = "koppel-root",
    username: Annotated[str | None, typer.Option("--username", help="WS-Security user name (default koppel).")] = None,
    password_env: Annotated[str | None, typer.Option("--password-env", help="Environment variable with the "
                                                     "password (default: the password 'sandbox').")] = None,
) -> None:
    """An itslearning IMS Enterprise Services emulator: same endpoints, SOAPActions, WSDL contracts read as
    itslearning's XmlSerializer reads them, upserts, trash can, a capacity model with HTTP 503."""
    from koppel.sandbox.itslearning import main

    argv = ["--port", str(port), "--host", host, "--db", db, "--latency-ms", str(latency_ms),
            "--fail-rate", str(fail_rate), "--fail-mode", fail_mode, "--permanent-fail-rate", str(permanent_fail_rate),
            "--max-batch", str(max_batch), "--queue-limit", str(queue_limit), "--seed", str(seed),
            "--site-root", site_root, "--profiles", profiles]
    if capacity is not None:
        argv += ["--capacity", str(capacity)]
    if retry_after is not None:
        argv += ["--retry-after", str(retry_after)]
    if max_operations_in_flight is not None:
        argv += ["--max-operations-in-flight", str(max_operations_in_flight)]
    if username:
        argv += ["--username", username]
    if password_env:
        argv += ["--password-env", password_env]
    raise typer.Exit(main(argv))


@sandbox_app.command("uwlr", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox_uwlr(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0 = any free port).")] = 8471,
    students: Annotated[int, typer.Option("--students", help="Pupils in the generated bestuur.")] = 1200,
    schools: Annotated[int, typer.Option("--schools", help="Schools (one UWLR school each).")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 1,
    year: Annotated[str, typer.Option("--year", help="School year served, e.g. 2025-2026.")] = "2025-2026",
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Latency added to every request.")] = 0.0,
    fail_rate: Annotated[float, typer.Option("--fail-rate", help="Fraction of requests answered with a fault.")] = 0.0,
    sleutel_env: Annotated[str | None, typer.Option("--sleutel-env", help="Environment variable with the "
                                                    "autorisatiesleutel the sandbox accepts.")] = None,
) -> None:
    """A UWLR (Edustandaard) LAS emulator serving generated schools over SOAP: HaalLeerlinggegevens, the
    autorisatie header and its faults. More options (TLS client certificates, fault kinds): see
    `python -m koppel.sandbox.uwlr --help`; they are passed through."""
    from koppel.sandbox.uwlr import main

    argv = ["--port", str(port), "--students", str(students), "--schools", str(schools), "--seed", str(seed),
            "--year", year, "--latency-ms", str(latency_ms), "--fail-rate", str(fail_rate)]
    if sleutel_env:
        argv += ["--sleutel-env", sleutel_env]
    raise typer.Exit(main(argv + list(ctx.args)))


@sandbox_app.command("somtoday", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sandbox_somtoday(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0 = any free port).")] = 8472,
    students: Annotated[int, typer.Option("--students", help="Pupils in the generated bestuur.")] = 1200,
    schools: Annotated[int, typer.Option("--schools", help="Vestigingen.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 1,
    year: Annotated[str, typer.Option("--year", help="The current school year (HUIDIG), e.g. 2025-2026; "
                                      "VOLGEND serves the next.")] = "2025-2026",
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Latency added to every request.")] = 0.0,
    fail_rate: Annotated[float, typer.Option("--fail-rate", help="Fraction of requests answered with HTTP 500.")] = 0.0,
    token_ttl_s: Annotated[float, typer.Option("--token-ttl-s", help="Lifetime of an access token.")] = 3600.0,
    client_id: Annotated[str | None, typer.Option("--client-id", help="OAuth2 client id (default koppel).")] = None,
    client_secret_env: Annotated[str | None, typer.Option("--client-secret-env", help="Environment variable with "
                                                          "the client secret (default: 'sandbox').")] = None,
) -> None:
    """A Somtoday Connect emulator serving generated schools: OAuth2 client credentials per instelling, data
    per vestiging, paging, peilschooljaar HUIDIG/VOLGEND, veldpermissies and faults. More options: `python -m
    koppel.sandbox.somtoday --help`; they are passed through."""
    from koppel.sandbox.somtoday import main

    argv = ["--port", str(port), "--students", str(students), "--schools", str(schools), "--seed", str(seed),
            "--year", year, "--latency-ms", str(latency_ms), "--fail-rate", str(fail_rate),
            "--token-ttl-s", str(token_ttl_s)]
    if client_id:
        argv += ["--client-id", client_id]
    if client_secret_env:
        argv += ["--client-secret-env", client_secret_env]
    raise typer.Exit(main(argv + list(ctx.args)))
