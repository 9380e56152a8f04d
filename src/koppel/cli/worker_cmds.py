"""`koppel worker`: runs the queued runs as procrastinate jobs on the state's PostgreSQL.

Registered on ``koppel.cli.main.app`` when this module is imported (main imports it at the bottom).
See docs/workers.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from koppel.cli.common import ConfigOpt, handle_errors
from koppel.cli.main import app

__all__ = ["worker"]


@app.command()
@handle_errors
def worker(
    config: ConfigOpt = Path("koppel.toml"),
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64,
                                             help="Runs at the same time in this process (always for different "
                                                  "targets).")] = 1,
    stalled_after: Annotated[float, typer.Option("--stalled-after", min=1.0, help="Seconds without a heartbeat "
                                                 "after which another worker's job counts as stalled and is "
                                                 "retried.")] = 30.0,
    run_timeout: Annotated[float, typer.Option("--run-timeout", min=1.0, help="Seconds a run may take, for the "
                                               "targets without their own [schedule] run_timeout in koppel.toml; "
                                               "then it is asked to stop after its batch, and when it hangs (a LAS "
                                               "that never answers) its request fails as timed out.")] = 6 * 3600.0,
    stop_timeout: Annotated[float, typer.Option("--stop-timeout", min=1.0, help="Seconds after SIGTERM to let the "
                                                "running applies finish their batch; then the process ends at "
                                                "once (exit 1) and other workers retry its jobs.")] = 600.0,
) -> None:
    """Run the service's queued runs (engine = "procrastinate"); start as many as you like, on any machine.

    Needs [state] url on PostgreSQL and [service] engine = "procrastinate" in koppel.toml; `koppel serve`
    then defers a job for every scheduled run, "nu synchroniseren" and approval, and the workers run them —
    one run per tenant and target at a time across all workers. procrastinate's tables are created in the
    state's database on the first start. SIGTERM (or Ctrl+C) stops the running applies after their current
    batch, queues their requests again (another worker continues them from the journal) and exits 0; a
    second signal, or --stop-timeout, ends the process at once. A worker that is killed stops sending
    heartbeats; after --stalled-after seconds another worker retries its job, which continues from the
    journal. When PostgreSQL restarts, the worker waits for it and carries on."""
    from koppel.config import load_config
    from koppel.service.jobs import run_worker
    from koppel.service.settings import load_service_settings

    loaded = load_config(config)
    settings = load_service_settings(loaded)
    run_worker(loaded, settings, concurrency=concurrency, stalled_after_s=stalled_after, run_timeout_s=run_timeout,
               stop_timeout_s=stop_timeout)
