"""The service, assembled: configuration, state store, accounts, queue, scheduler, notifier, read model.

``Service.open`` validates everything first — the configuration, the ``[service]`` section, every
schedule, the notification secrets — and reports all problems at once, so `koppel serve` either
starts completely or tells the systeembeheerder exactly what to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from koppel.config import Config, load_config
from koppel.errors import ConfigError, ConfigProblem
from koppel.pipeline import Koppel
from koppel.service.accounts import Accounts
from koppel.service.clock import Clock, system_clock
from koppel.service.dashboard import Dashboard
from koppel.service.notify import Notifier
from koppel.service.plancache import PlanCache
from koppel.service.progress import ProgressBoard
from koppel.service.queue import RunQueue, target_backoffs
from koppel.service.schedule import Schedule
from koppel.service.scheduler import Scheduler, load_schedules
from koppel.service.settings import ServiceSettings, load_service_settings
from koppel.service.timed import RunTimeouts
from koppel.service.worker import Worker
from koppel.state.store import StateStore

__all__ = ["Service"]


@dataclass
class Service:
    config: Config
    settings: ServiceSettings
    koppel: Koppel
    accounts: Accounts
    queue: RunQueue
    scheduler: Scheduler
    notifier: Notifier
    plans: PlanCache
    dashboard: Dashboard
    clock: Clock
    progress: ProgressBoard

    @classmethod
    def open(cls, config: Config | str | Path, *, env: Mapping[str, str] | None = None, clock: Clock = system_clock,
             store: StateStore | None = None) -> Service:
        env = dict(env if env is not None else os.environ)
        if not isinstance(config, Config):
            config = load_config(config, env=env)
        settings, schedules = _validated(config, env)
        koppel = Koppel.open(config, env=env, store=store, clock=clock)
        store = koppel.store
        notifier = Notifier.from_settings(settings, config=config, env=env, store=store, clock=clock)
        queue = RunQueue(store, clock=clock)
        queue.backoffs = target_backoffs(config)  # each target's [schedule] backoff
        external = settings.engine == "procrastinate"  # `koppel worker` processes run the queue
        if external:
            from koppel.service.jobs import Deferrer

            queue.deferrer = Deferrer(config.state_url(env), queue)
        plans = PlanCache(store, size=settings.plan_cache)
        progress = ProgressBoard()
        worker = Worker(koppel, queue, settings=settings, notifier=notifier, plans=plans, progress=progress)
        scheduler = Scheduler(store, queue, None if external else worker, schedules=schedules, clock=clock,
                              workers=settings.workers, poll_s=settings.poll_s, plans=plans, recover=not external,
                              run_timeouts=RunTimeouts.from_config(config))
        dashboard = Dashboard(koppel, queue, plans, clock=clock, schedules=schedules, next_run=scheduler.next_run,
                              notifier=notifier, progress=progress)
        accounts = Accounts(store, clock=clock, login=settings.login)
        return cls(config, settings, koppel, accounts, queue, scheduler, notifier, plans, dashboard, clock, progress)

    def close(self) -> None:
        self.scheduler.shutdown(wait=True)
        deferrer = getattr(self.queue.deferrer, "close", None)
        if deferrer is not None:
            deferrer()
        self.koppel.store.close()


def _validated(config: Config, env: Mapping[str, str] | None = None,
               ) -> tuple[ServiceSettings, dict[tuple[str, str], Schedule]]:
    """The service settings and the schedules, with the problems of both reported together."""
    problems: list[ConfigProblem] = []
    settings: ServiceSettings | None = None
    schedules: dict[tuple[str, str], Schedule] | None = None
    try:
        settings = load_service_settings(config)
        from koppel.service.jobs import check_engine

        check_engine(config, settings, env)
    except ConfigError as exc:
        problems += exc.problems
    try:
        schedules = load_schedules(config)
    except ConfigError as exc:
        problems += exc.problems
    if problems or settings is None or schedules is None:
        raise ConfigError(problems)
    return settings, schedules
