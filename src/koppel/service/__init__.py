"""Service mode: `koppel serve` — the scheduler, the dashboard, the JSON API and the notifications.

The web layer only reads state and queues work (DESIGN §2, §9): a run is always made by the
scheduler's workers, through the same ``Koppel`` application layer the command line uses.

::

    service = Service.open("koppel.toml")          # validates config, [service] and every schedule
    app = create_app(service)                        # FastAPI; the scheduler runs in its lifespan
    serve(service, host="127.0.0.1", port=8480)      # uvicorn, with a clean SIGTERM

Modules: ``schedule`` (when: pure), ``scheduler`` and ``worker`` (running), ``queue`` (durable
requests), ``accounts`` (users, tokens, sessions, throttling), ``dashboard`` (the read model) with
``models``, ``app``/``pages``/``api``/``web`` (HTTP), ``notify`` (e-mail and webhook), ``i18n``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from koppel.service.runtime import Service

__all__ = ["Service", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    """``Service`` is loaded when asked for: the migrations import ``koppel.service.tables``, and opening a
    state must not pay for the web stack (FastAPI, Jinja2, Babel) that the runtime pulls in."""
    if name == "Service":
        from koppel.service.runtime import Service

        return Service
    raise AttributeError(f"module 'koppel.service' has no attribute {name!r}")


def create_app(service: Service, *, run_scheduler: bool = True):
    from koppel.service.app import create_app as _create_app

    return _create_app(service, run_scheduler=run_scheduler)


def serve(service: Service, *, host: str | None = None, port: int | None = None) -> None:
    from koppel.service.server import serve as _serve

    _serve(service, host=host, port=port)
