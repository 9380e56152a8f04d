"""Running the service under uvicorn, with a shutdown that lets a running apply finish its batch.

uvicorn catches SIGTERM and SIGINT, stops accepting requests and closes the application's
lifespan, in which the scheduler is shut down: the stop event every running apply watches is set,
the batches in flight finish and are recorded, the run ends as ``stopped``, and only then does the
process exit (status 0). A second Ctrl-C forces the exit, as uvicorn does.
"""

from __future__ import annotations

import signal
from types import FrameType

import structlog
import uvicorn

from koppel.service.app import create_app
from koppel.service.runtime import Service

__all__ = ["serve"]

log = structlog.get_logger("koppel.service")


def serve(service: Service, *, host: str | None = None, port: int | None = None) -> None:
    host = host or service.settings.host
    port = port or service.settings.port
    app = create_app(service, run_scheduler=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            proxy_headers=False, server_header=False, timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)

    def stop_runs(signum: int, _frame: FrameType | None) -> None:
        # uvicorn restores this handler after its graceful shutdown and raises the signal again;
        # by then the scheduler has stopped, so there is nothing left to do but return.
        service.scheduler.stop.set()

    previous = {sig: signal.signal(sig, stop_runs) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("koppel serve listening", url=f"http://{host}:{port}/")
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        service.close()
