"""Typed, layered, self-describing configuration: ``koppel.toml``, then secret files, then environment.

Every problem is collected and reported at once, each with the file, the line and the setting, so a
systeembeheerder fixes the whole file in one go instead of one error per run. Source and target
tables are validated by the settings model their ``kind`` registers (``koppel connectors describe``).

Layout::

    include = ["tenants/*.toml"]            # optional: one file per tenant (below), globs relative to this file
    [state]
    url = "sqlite:///koppel-state.db"      # or postgresql://user@host/db; env KOPPEL_STATE_URL wins

    [tenants.<id>]                          # a bestuur (or a school)
    name = "…"
    [tenants.<id>.sources.<name>]           # kind = "csv" | …; the name is part of every key: keep it
    [tenants.<id>.targets.<name>]           # kind = "itslearning" | "fake"; plus [.rules] [.policy] …

An included file holds exactly one tenant, written as in koppel.toml (``[tenants.<id>]`` and its sub-tables),
so a tenant moves between files unchanged. Every problem in it is reported with its own path and line, and
its relative paths (exports, secret files) resolve against its own folder. See docs/configuration.md.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from koppel.connectors import ConnectorContext, load_source_kind, load_target_kind
from koppel.errors import ConfigError, ConfigProblem, KoppelError
from koppel.model.desired import ObjectKind
from koppel.model.roster import SchoolYear
from koppel.plan.policy import AbsentGroupAction, ArchivedMemberships, GuardPolicy, PlanPolicy
from koppel.retry import RetryPolicy
from koppel.rules.settings import RulesSettings
from koppel.validation import ValidationSettings

__all__ = [
    "Config",
    "ConfigCheck",
    "PolicySettings",
    "RetrySettings",
    "ScheduleSettings",
    "SettingLocator",
    "SourceConfig",
    "TargetConfig",
    "TenantConfig",
    "YearChoice",
    "check_config",
    "inline_secrets",
    "load_config",
    "parse_duration",
    "public_view",
    "validate_section",
]

SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "credentials", "sleutel",
                "private", "private_key")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StateSettings(_Strict):
    url: str = Field("sqlite:///koppel-state.db", description="Where koppel keeps its state: a SQLite file "
                     "(relative to this file) or a PostgreSQL URL. Environment KOPPEL_STATE_URL overrides it.")


class LogSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "warning", description="Log level on stderr (`-v`/`-vv` on the command line wins).")
    format: Literal["text", "json"] = Field(
        "text", description="Log lines as text or as JSON for log shippers (`--log-format` wins).")


class LifecycleSettings(_Strict):
    """What happens to people and groups that leave the LAS, and at the jaarovergang."""

    grace_days_student: int = Field(30, ge=0, description="Days a pupil who left stays suspended before deletion.")
    grace_days_staff: int = Field(60, ge=0, description="Days a staff member who left stays suspended before deletion.")
    grace_days_guardian: int = Field(30, ge=0, description="Days a guardian stays suspended before deletion.")
    absent_groups: AbsentGroupAction = Field(AbsentGroupAction.ARCHIVE, description="Groups gone from the LAS "
                                             "(and last year's groups) are archived (default) or deleted.")
    archived_memberships: ArchivedMemberships = Field(
        ArchivedMemberships.KEEP, description="Memberships of archived groups: keep (read access to last year's "
        "courses), remove, or keep-teachers.")
    provision_next_year: bool = Field(False, description="Before the switch date, also read the LAS's next-year "
                                      "data and create next year's groups ahead of the jaarovergang.")
    provision_from: str = Field("06-15", description="MM-DD from which next year's groups are provisioned.")
    provision_members: Literal["teachers", "none"] = Field(
        "teachers", description="Who is put in next year's groups before the switch (pupils never: they see "
        "their new courses from the switch on).")
    retention_days: int = Field(365, ge=0, description="AVG: days after a person was deleted before their state "
                                "and history are purged by `koppel purge`.")

    @field_validator("provision_from")
    @classmethod
    def _mmdd(cls, value: str) -> str:
        _parse_mmdd(value)
        return value


class GuardSettings(_Strict):
    """Removals (suspensions and deletions) above these limits hold the plan until someone approves it."""

    max_percent: float = Field(10.0, ge=0, le=100, description="Hold above this percentage of a kind's objects, "
                               "per school and for the whole tenant.")
    max_count: int = Field(500, ge=0, description="Hold above this number of removals of one kind.")
    min_count: int = Field(10, ge=0, description="The percentage applies from this many removals on; this many "
                           "persons renamed only in their accents hold the plan whatever their share.")
    hold_jaarovergang: bool = Field(True, description="Hold the plan that archives last year's groups (the "
                                    "jaarovergang) until someone approves it.")


class PolicySettings(_Strict):
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    guards: GuardSettings = Field(default_factory=GuardSettings)
    protected: dict[Literal["person", "group", "membership"], list[str]] = Field(
        default_factory=lambda: {"person": [], "group": []},  # type: ignore[arg-type]  # pydantic's inference
        description="Fields koppel does not own, per kind: sent when an object is created, never on update "
                    "(e.g. person = [\"email\"] when the school manages e-mail in the platform).",
    )

    def plan_policy(self, supported=None) -> PlanPolicy:
        lc = self.lifecycle
        return PlanPolicy(
            grace_days={"student": lc.grace_days_student, "staff": lc.grace_days_staff,
                        "guardian": lc.grace_days_guardian},
            absent_groups=lc.absent_groups,
            archived_memberships=lc.archived_memberships,
            protected={ObjectKind(k): frozenset(v) for k, v in self.protected.items()},
            guards=GuardPolicy(max_percent=self.guards.max_percent, max_count=self.guards.max_count,
                               min_count=self.guards.min_count, hold_jaarovergang=self.guards.hold_jaarovergang),
            supported=supported,
        )


class RetrySettings(_Strict):
    """How transient failures (HTTP 5xx, timeouts, a busy platform) are tried again — by apply and by
    every read (reconcile, takeover, check)."""

    max_attempts: int = Field(5, ge=1, le=50, description="Attempts per request on transient errors.")
    initial_delay_s: float = Field(1.0, ge=0, description="First backoff delay; doubles each attempt, with jitter.")
    max_delay_s: float = Field(60.0, ge=0, description="Longest backoff delay.")

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.initial_delay_s, self.max_delay_s)


_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|min|h|d)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` → seconds. A bare number is refused (seconds or minutes?),
    and so is a negative duration; the messages say what to write instead."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"must be a duration like '30m', '2h' or '90s', not {_toml_type(value)}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is negative: give a duration like '30m', '2h' or '90s'")
        raise ValueError(f"{value!r} has no unit: write it as a duration like '{value}s' or '30m'")
    if value.strip().startswith("-"):
        raise ValueError(f"{value!r} is negative: give a duration like '30m', '2h' or '90s'")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration like '30m', '2h' or '90s'")
    return float(int(match.group(1)) * _DURATION_UNITS[match.group(2)])


class ScheduleSettings(_Strict):
    """When `koppel serve` runs this target (an interval or a cron expression), how long one of its runs may
    take, and how long the schedule leaves it alone after failed runs (docs/workers.md)."""

    enabled: bool = Field(False, description="Run on this schedule in `koppel serve`.")
    interval: str | None = Field(None, description="Every so long, e.g. '15m', '2h', '1d'.")
    cron: str | None = Field(None, description="Cron expression (minute hour day month weekday), e.g. '0 6 * * 1-5'.")
    windows: list[str] = Field(default_factory=list, description="Allowed time windows, e.g. ['22:00-06:00'] "
                               "(Somtoday pupil data only at night). Empty = any time.")
    pauses: list[str] = Field(default_factory=list, description="Pause periods as 'MM-DD..MM-DD', e.g. "
                              "['07-10..08-15'] for the summer freeze.")
    timezone: str = Field("Europe/Amsterdam", description="Time zone of the cron expression and the windows.")
    run_timeout: str | None = Field(None, description="How long a run of this target may take in `koppel serve` or "
                                    "`koppel worker`, e.g. '30m': then it is asked to stop after its batch, and when "
                                    "it hangs (a LAS that never answers) it fails as timed out. Not set: `koppel "
                                    "worker --run-timeout` (6h unless given), 6h in `koppel serve`.")
    backoff_initial: str = Field("5m", description="After a failed sync the schedule leaves this target alone this "
                                 "long ('0s': not at all); 'nu synchroniseren' is never held back.")
    backoff_factor: float = Field(2.0, ge=1.0, le=10.0, description="The wait is multiplied by this for each further "
                                  "failed sync in a row.")
    backoff_max: str = Field("6h", description="The longest wait after failed syncs.")

    @field_validator("run_timeout", "backoff_initial", "backoff_max", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> object:
        if value is None and info.field_name == "run_timeout":
            return value
        seconds = parse_duration(value)
        if info.field_name == "run_timeout" and seconds < 1:
            raise ValueError(f"{value!r} is too short: a run may take at least '1s'")
        if info.field_name == "backoff_max":
            initial = info.data.get("backoff_initial")
            if isinstance(initial, str) and seconds < parse_duration(initial):
                raise ValueError(f"{value!r} is shorter than backoff_initial ({initial!r})")
        return value

    @property
    def run_timeout_s(self) -> float | None:
        """The run timeout in seconds; None when this target leaves it to the default."""
        return parse_duration(self.run_timeout) if self.run_timeout is not None else None

    @property
    def backoff_initial_s(self) -> float:
        return parse_duration(self.backoff_initial)

    @property
    def backoff_max_s(self) -> float:
        return parse_duration(self.backoff_max)


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    settings: BaseModel


@dataclass(frozen=True)
class TargetConfig:
    name: str
    kind: str
    settings: BaseModel
    rules: RulesSettings
    policy: PolicySettings
    retry: RetrySettings
    schedule: ScheduleSettings
    enabled: bool = True


@dataclass(frozen=True)
class TenantConfig:
    id: str
    name: str
    school_year: str  # "auto" or "2025-2026"
    year_start: str  # MM-DD
    validation: ValidationSettings
    sources: Mapping[str, SourceConfig]
    targets: Mapping[str, TargetConfig]
    # Where the tenant is written: the included file (None: the configuration file itself) and the line of
    # its [tenants.<id>] table. Relative paths in it resolve against ``base_dir`` (None: the configuration's).
    file: Path | None = None
    line: int | None = None
    base_dir: Path | None = None

    def choose_year(self, today: dt.date, override: str | None = None) -> YearChoice:
        """The school year koppel works on, and why: ``--year`` when given, else ``school_year`` in
        koppel.toml, else (``"auto"``) the year ``today`` falls in, starting on ``year_start``. This is the
        one answer validate, plan, sync and status give (and say where it came from)."""
        if override:
            try:
                return YearChoice(SchoolYear.parse(override), "--year", today, self.year_start)
            except ValueError as exc:
                raise ConfigError([ConfigProblem(str(exc), setting="--year")]) from None
        if self.school_year != "auto":
            return YearChoice(SchoolYear.parse(self.school_year), "koppel.toml", today, self.year_start)
        month, day = _parse_mmdd(self.year_start)
        return YearChoice(SchoolYear.containing(today, start_month=month, start_day=day), "auto", today,
                          self.year_start)

    def resolve_year(self, today: dt.date, override: str | None = None) -> SchoolYear:
        return self.choose_year(today, override).year


@dataclass(frozen=True)
class YearChoice:
    """The school year koppel works on and where that answer came from: ``"--year"`` (the command line),
    ``"koppel.toml"`` (the tenant's ``school_year``) or ``"auto"`` (today's date and ``year_start``)."""

    year: SchoolYear
    origin: Literal["--year", "koppel.toml", "auto"]
    today: dt.date
    year_start: str = "08-01"

    @property
    def why(self) -> str:
        """Where the year came from, in words: ``auto: today 2026-12-04, year starts 08-01``."""
        if self.origin == "auto":
            return f"auto: today {self.today.isoformat()}, year starts {self.year_start}"
        return self.origin

    def __str__(self) -> str:
        return f"{self.year} ({self.why})"

    def to_json(self) -> dict[str, Any]:
        return {"year": str(self.year), "origin": self.origin, "why": self.why}


@dataclass(frozen=True)
class Config:
    path: Path | None
    state: StateSettings
    log: LogSettings
    tenants: Mapping[str, TenantConfig]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    service: Mapping[str, Any] = field(default_factory=dict)
    # The files ``include`` brought in, in the order they were read.
    included: tuple[Path, ...] = ()

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def tenant_dir(self, tenant: TenantConfig) -> Path:
        """The folder a tenant's relative paths (exports, secret files) resolve against: its own file's."""
        return tenant.base_dir if tenant.base_dir is not None else self.base_dir

    def tenant_file(self, tenant: TenantConfig) -> Path | None:
        """The file a tenant is written in: its included file, else the configuration file."""
        return tenant.file if tenant.file is not None else self.path

    def tenant(self, tenant_id: str | None) -> TenantConfig:
        if tenant_id is None:
            if len(self.tenants) == 1:
                return next(iter(self.tenants.values()))
            raise ConfigError(f"this configuration has {len(self.tenants)} tenants; choose one with --tenant "
                              f"({', '.join(self.tenants)})")
        try:
            return self.tenants[tenant_id]
        except KeyError:
            raise ConfigError(f"no tenant {tenant_id!r} in the configuration (have: {', '.join(self.tenants)})") from None

    def context(self, tenant: TenantConfig, *, env: Mapping[str, str] | None = None,
                school_year: SchoolYear | None = None, retry: RetryPolicy | None = None) -> ConnectorContext:
        import os

        return ConnectorContext(tenant=tenant.id, base_dir=self.tenant_dir(tenant),
                                env=dict(env if env is not None else os.environ), school_year=school_year, retry=retry)

    def locate(self, loc: tuple[str, ...]) -> tuple[Path | None, int | None]:
        """The file and line of a setting (or of its table when the key is not written): a tenant's setting
        (``("tenants", id, …)``) in the file that tenant is written in, anything else in the configuration
        file. ``(None, None)`` when the configuration was not read from a file."""
        file = self.path
        if len(loc) >= 2 and loc[0] == "tenants" and loc[1] in self.tenants:
            file = self.tenant_file(self.tenants[loc[1]])
        if file is None:
            return None, None
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return file, None
        return file, SettingLocator(text)(loc)

    def where(self, loc: tuple[str, ...]) -> str | None:
        """``/full/path/koppel.toml:line`` of a setting (or of its table when the key is not written), in the
        included file for a tenant written in one; None when the configuration was not read from a file."""
        file, line = self.locate(loc)
        if file is None:
            return None
        return f"{file.absolute()}:{line}" if line else str(file.absolute())

    def state_url(self, env: Mapping[str, str] | None = None) -> str:
        import os

        env = env if env is not None else os.environ
        return env.get("KOPPEL_STATE_URL") or self.state.url


# -- loading --------------------------------------------------------------------------------


_TENANT_KEYS = {"name", "school_year", "year_start", "validation", "sources", "targets"}
_TARGET_GENERIC = {"kind", "enabled", "rules", "policy", "retry", "schedule"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate ``path`` and the tenant files it includes; raise ConfigError listing every problem found."""
    path = Path(path)
    text = _read_text(path, missing="configuration file not found (create one with `koppel init`)")
    return parse_config(text, path=path)


def _read_text(path: Path, *, missing: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(missing, file=str(path))]) from None
    except IsADirectoryError:
        raise ConfigError([ConfigProblem("is a folder, not a file", file=str(path))]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(f"not UTF-8 text: {exc.reason}", file=str(path))]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(f"cannot read: {exc.strerror}", file=str(path))]) from None


def _parse_toml(text: str, fname: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        if line is None and "(at end of document)" in str(exc):  # an unclosed list or string: its last line
            line = max(1, len(text.splitlines()))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([ConfigProblem(f"not valid TOML: {msg}", file=fname, line=line)]) from None


class _Problems:
    """Collects the problems of one file: ``problem(message, loc)`` names the setting and finds its line."""

    def __init__(self, problems: list[ConfigProblem], fname: str, text: str):
        self.problems, self.fname, self.locate = problems, fname, SettingLocator(text)

    def __call__(self, message: str, loc: tuple, line: int | None = None) -> None:
        setting = ".".join(str(p) for p in loc)
        self.problems.append(ConfigProblem(message, setting=setting or None, file=self.fname,
                                           line=line or self.locate(loc)))


@dataclass
class _Tenants:
    """The tenants read so far, from koppel.toml and each included file: ids are unique across all files."""

    configs: dict[str, TenantConfig] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    defined: dict[str, str] = field(default_factory=dict)  # id -> "file:line" where it is written

    def add(self, tid: str, traw: Any, problem: _Problems, *, file: Path | None = None) -> None:
        line = problem.locate(("tenants", tid))
        here = f"{problem.fname}:{line}" if line else problem.fname
        if tid in self.defined:
            problem(f"tenant {tid!r} is defined twice: here and in {self.defined[tid]} (tenant ids must be unique "
                    "across koppel.toml and the files it includes)", ("tenants", tid))
            _tenant(tid, traw, problem)  # still checked: every problem at once
            return
        self.defined[tid] = here
        self.raw[tid] = traw
        tenant = _tenant(tid, traw, problem, file=file, line=line, base_dir=file.parent if file else None)
        if tenant is not None:
            self.configs[tid] = tenant


def parse_config(text: str, *, path: Path | None = None) -> Config:
    config, problems, _ = _assemble(text, path)
    if problems or config is None:
        raise ConfigError(problems or [ConfigProblem("invalid configuration", file=str(path) if path else None)])
    return config


@dataclass(frozen=True)
class ConfigCheck:
    """What `koppel tenant check` reports: every problem in koppel.toml and the files it includes, the
    configuration when there were none, and where each tenant id is written (also when it has problems)."""

    config: Config | None
    problems: tuple[ConfigProblem, ...]
    defined: Mapping[str, str]  # tenant id -> "file:line"


def check_config(path: str | Path) -> ConfigCheck:
    """Read ``path`` and its included files like :func:`load_config`, but return the problems instead of
    raising them (a file that cannot be read or is no TOML is one problem)."""
    path = Path(path)
    try:
        text = _read_text(path, missing="configuration file not found (create one with `koppel init`)")
        config, problems, tenants = _assemble(text, path)
    except ConfigError as exc:
        return ConfigCheck(None, exc.problems, {})
    return ConfigCheck(None if problems else config, tuple(problems), dict(tenants.defined))


def _assemble(text: str, path: Path | None) -> tuple[Config | None, list[ConfigProblem], _Tenants]:
    fname = str(path) if path else "<config>"
    raw = _parse_toml(text, fname)
    problems: list[ConfigProblem] = []
    problem = _Problems(problems, fname, text)

    state = validate_section(StateSettings, raw.get("state", {}), ("state",), problem)
    log = validate_section(LogSettings, raw.get("log", {}), ("log",), problem)
    for key in raw:
        if key not in ("include", "state", "log", "tenants", "service"):
            problem(f"unknown section {key!r} (known: include, state, log, service, tenants)", (key,))
    tenants = _Tenants()
    tenants_raw = raw.get("tenants")
    if tenants_raw is not None and not isinstance(tenants_raw, dict):
        problem("must be tables: [tenants.<id>]", ("tenants",))
    for tid, traw in (tenants_raw or {}).items() if isinstance(tenants_raw, dict) else ():
        tenants.add(tid, traw, problem)
    included = _include(raw, path, problem)
    for file in included:
        _include_tenant_file(file, tenants, problems)
    if not tenants.raw and not problems:
        problem("no tenants configured: add a [tenants.<id>] section (`koppel init` writes one) or include tenant "
                "files (include = [\"tenants/*.toml\"])", ("tenants",))
    if problems:
        return None, problems, tenants
    merged = {**raw, "tenants": tenants.raw}
    config = Config(path=path, state=state, log=log, tenants=tenants.configs, raw=merged,
                    service=raw.get("service", {}), included=tuple(included))
    return config, problems, tenants


def _include(raw: Mapping[str, Any], path: Path | None, problem: _Problems) -> list[Path]:
    """The files ``include = [...]`` names, each once, in pattern order and sorted within a pattern.

    A pattern is a glob relative to the configuration's folder (``**`` for sub-folders); absolute
    patterns and ``..`` are allowed: koppel.toml is the operator's own file and already names any
    export or secret file it likes. A pattern that matches no file is an error, not an empty set: a
    typo must not silently drop every tenant it was meant to bring in."""
    if "include" not in raw:
        return []
    patterns = raw["include"]
    example = 'e.g. include = ["tenants/*.toml"]'
    if not isinstance(patterns, list):
        problem(f"must be a list of file patterns, {example}, not {_toml_type(patterns)}", ("include",))
        return []
    base = path.parent if path else Path.cwd()
    itself = path.resolve() if path else None
    seen: set[Path] = set()
    files: list[Path] = []
    for number, pattern in enumerate(patterns, start=1):
        if not isinstance(pattern, str) or not pattern.strip():
            what = "an empty string" if isinstance(pattern, str) else _toml_type(pattern)
            problem(f"entry {number} must be a file pattern (a string, {example}), not {what}", ("include",))
            continue
        line = _pattern_line(problem, pattern)
        matches = sorted(glob.glob(os.path.join(base, os.path.expanduser(pattern)), recursive=True))
        if not matches:
            problem(f"{pattern!r} matches no file (looked in {base.absolute()}); a pattern that matches nothing "
                    "is an error, so that a typo cannot drop tenants unnoticed", ("include",), line)
        for match in matches:
            file = Path(match)
            if file.is_dir():
                problem(f"{pattern!r} matches the folder {file}: include files, e.g. "
                        f"{pattern.rstrip('/')}/*.toml", ("include",), line)
                continue
            resolved = file.resolve()
            if resolved == itself:
                problem(f"{pattern!r} matches this configuration file itself; only tenant files may be included",
                        ("include",), line)
            elif resolved not in seen:  # a file two patterns match is read once
                seen.add(resolved)
                files.append(file)
    return files


def _pattern_line(problem: _Problems, pattern: str) -> int | None:
    """The line on which ``pattern`` is written in the include list (the list may span several lines)."""
    first = problem.locate(("include",))
    if first is None:
        return None
    for number in range(first, len(problem.locate.lines) + 1):
        if pattern in problem.locate.lines[number - 1]:
            return number
    return first


def _include_tenant_file(file: Path, tenants: _Tenants, problems: list[ConfigProblem]) -> None:
    """Read one included file: exactly one ``[tenants.<id>]`` table, its problems named with its own path."""
    fname = str(file)
    try:
        text = _read_text(file, missing="included file not found (a broken link?)")
        raw = _parse_toml(text, fname)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return
    problem = _Problems(problems, fname, text)
    for key in raw:
        if key == "include":
            problem("include is read only in koppel.toml: a tenant file does not include other files", (key,))
        elif key != "tenants":
            problem(f"{key!r} does not belong in a tenant file: it holds exactly one [tenants.<id>] table "
                    "(state, log and service stay in koppel.toml)", (key,))
    found = raw.get("tenants")
    if not isinstance(found, dict) or not found:
        problem("no tenant in this file: an included file holds exactly one [tenants.<id>] table", ("tenants",))
        return
    ids = list(found)
    for extra in ids[1:]:
        problem(f"a second tenant {extra!r} in this file (the first is {ids[0]!r}): an included file holds exactly "
                "one tenant; give it a file of its own", ("tenants", extra))
    for tid in ids:
        tenants.add(tid, found[tid], problem, file=file)


def _toml_type(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def validate_section(model: type[BaseModel], data: Any, loc: tuple, problem) -> Any:
    """Validate one table of the file with ``model``; report each problem through ``problem(message, loc)``."""
    if not isinstance(data, dict):
        problem(f"must be a table, not {type(data).__name__}", loc)
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            where = loc + tuple(err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = _unknown_setting(str(err["loc"][-1]), model, err["loc"][:-1])
            problem(msg, where)
        return None


def _unknown_setting(name: str, model: type[BaseModel], path: tuple) -> str:
    import difflib

    fields = _fields_at(model, path)
    close = difflib.get_close_matches(str(name), fields, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else (f"; known: {', '.join(sorted(fields))}" if fields else "")
    return f"unknown setting {name!r}{hint}{_INCLUDE_HINT if name == 'include' else ''}"


# TOML puts a key after a [table] header in that table: `include` written below [state] lands there.
_INCLUDE_HINT = " (include = [...] belongs at the top of koppel.toml, before the first [table])"


def _fields_at(model: type[BaseModel], path: tuple) -> list[str]:
    current: Any = model
    for part in path:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(str(part))
        if info is None:
            return []
        current = info.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _tenant(tid: str, traw: Any, problem, *, file: Path | None = None, line: int | None = None,
            base_dir: Path | None = None) -> TenantConfig | None:
    loc = ("tenants", tid)
    if not _ID.match(tid):
        problem("tenant ids use letters, digits, '-', '_' and '.' (at most 64)", loc)
    if not isinstance(traw, dict):
        problem("must be a table", loc)
        return None
    for key in traw:
        if key not in _TENANT_KEYS:
            import difflib

            close = difflib.get_close_matches(key, sorted(_TENANT_KEYS), n=1)
            problem(f"unknown setting {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")
                    + (_INCLUDE_HINT if key == "include" else ""), loc + (key,))
    school_year = str(traw.get("school_year", "auto"))
    if school_year != "auto":
        try:
            SchoolYear.parse(school_year)
        except ValueError as exc:
            problem(str(exc), loc + ("school_year",))
    year_start = str(traw.get("year_start", "08-01"))
    try:
        _parse_mmdd(year_start)
    except ValueError as exc:
        problem(str(exc), loc + ("year_start",))
    validation = validate_section(ValidationSettings, traw.get("validation", {}), loc + ("validation",), problem)
    sources: dict[str, SourceConfig] = {}
    for name, sraw in _table(traw, "sources", loc, problem).items():
        src = _source(name, sraw, loc + ("sources", name), problem)
        if src:
            sources[name] = src
    targets: dict[str, TargetConfig] = {}
    for name, graw in _table(traw, "targets", loc, problem).items():
        tgt = _target(name, graw, loc + ("targets", name), problem)
        if tgt:
            targets[name] = tgt
    if "sources" in traw and not traw["sources"]:
        problem("no sources: add a [tenants.<id>.sources.<name>] table", loc + ("sources",))
    if "targets" in traw and not traw["targets"]:
        problem("no targets: add a [tenants.<id>.targets.<name>] table", loc + ("targets",))
    for name, tgt in targets.items():
        source = tgt.rules.accounts.username_from
        if source is not None and (source == name or source not in targets):
            others = ", ".join(n for n in targets if n != name) or "none"
            problem(f"username_from names {source!r}, which is not another target of this tenant (others: {others})",
                    loc + ("targets", name, "rules", "accounts", "username_from"))
    if validation is None:
        return None
    return TenantConfig(
        id=tid, name=str(traw.get("name", tid)), school_year=school_year, year_start=year_start,
        validation=validation, sources=sources, targets=targets, file=file, line=line, base_dir=base_dir,
    )


def _table(traw: dict, key: str, loc: tuple, problem) -> dict:
    value = traw.get(key)
    if value is None:
        problem(f"no {key} configured", loc + (key,))
        return {}
    if not isinstance(value, dict):
        problem("must be a table of named entries", loc + (key,))
        return {}
    return value


def _source(name: str, sraw: Any, loc: tuple, problem) -> SourceConfig | None:
    if not isinstance(sraw, dict):
        problem("must be a table", loc)
        return None
    if not _ID.match(name):
        problem("source names use letters, digits, '-', '_' and '.'", loc)
    kind = sraw.get("kind")
    if not kind:
        problem("missing 'kind' (e.g. kind = \"csv\")", loc + ("kind",))
        return None
    try:
        kind_info = load_source_kind(kind)
    except ConfigError as exc:
        problem(exc.problems[0].message, loc + ("kind",))
        return None
    data = {k: v for k, v in sraw.items() if k != "kind"}
    settings = validate_section(kind_info.settings, data, loc, problem)
    return SourceConfig(name, kind, settings) if settings is not None else None


def _target(name: str, graw: Any, loc: tuple, problem) -> TargetConfig | None:
    if not isinstance(graw, dict):
        problem("must be a table", loc)
        return None
    if not _ID.match(name):
        problem("target names use letters, digits, '-', '_' and '.'", loc)
    kind = graw.get("kind")
    kind_info = None
    if not kind:
        problem("missing 'kind' (e.g. kind = \"itslearning\")", loc + ("kind",))
    else:
        try:
            kind_info = load_target_kind(kind)
        except ConfigError as exc:
            problem(exc.problems[0].message, loc + ("kind",))
    # The generic sections are checked even when the kind is wrong: every problem at once.
    settings = None
    if kind_info is not None:
        specific = {k: v for k, v in graw.items() if k not in _TARGET_GENERIC}
        settings = validate_section(kind_info.settings, specific, loc, problem)
    rules = validate_section(RulesSettings, graw.get("rules", {}), loc + ("rules",), problem)
    policy = validate_section(PolicySettings, graw.get("policy", {}), loc + ("policy",), problem)
    retry = validate_section(RetrySettings, graw.get("retry", {}), loc + ("retry",), problem)
    schedule = validate_section(ScheduleSettings, graw.get("schedule", {}), loc + ("schedule",), problem)
    enabled = graw.get("enabled", True)
    if not isinstance(enabled, bool):
        problem("must be true or false", loc + ("enabled",))
    if policy is not None and kind_info is not None:
        for kind_name, fields in policy.protected.items():
            mandatory = kind_info.mandatory_fields.get(kind_name, frozenset())
            for f in sorted(set(fields) & set(mandatory)):
                problem(f"{kind_name}.{f} is required by {kind} on every update and cannot be protected",
                        loc + ("policy", "protected", kind_name))
    if settings is None or rules is None or policy is None or retry is None or schedule is None or kind is None:
        return None
    return TargetConfig(name, kind, settings, rules, policy, retry, schedule, bool(enabled))


def _parse_mmdd(value: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{2})-(\d{2})", value)
    if not m:
        raise ValueError(f"{value!r} is not a date of the form MM-DD")
    month, day = int(m.group(1)), int(m.group(2))
    try:
        dt.date(2024, month, day)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid month and day") from None
    return month, day


class SettingLocator:
    """Find the line of a setting in the TOML text: the key's line, else its table's header."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")

    def __init__(self, text: str):
        self.entries: list[tuple[tuple[str, ...], int]] = []
        self.lines = text.splitlines()
        table: tuple[str, ...] = ()
        for lineno, line in enumerate(self.lines, start=1):
            h = self._HEADER.match(line)
            if h:
                table = _split_dotted(h.group(1))
                self.entries.append((table, lineno))
                continue
            k = self._KEY.match(line)
            if k:
                self.entries.append((table + _split_dotted(k.group(1)), lineno))

    def __call__(self, loc: tuple) -> int | None:
        path = tuple(str(p) for p in loc)
        while path:
            for entry, lineno in self.entries:
                if entry == path:
                    return lineno
            # A table written only through its sub-tables ([tenants.a.sources.las] without [tenants.a]):
            # the first line inside it.
            for entry, lineno in self.entries:
                if entry[:len(path)] == path:
                    return lineno
            path = path[:-1]
        return None


def _split_dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', text)
    return tuple(a or b or c for a, b, c in parts)


# -- the public (masked) view, for `koppel config show` and the dashboard ------------------------


def public_view(config: Config) -> dict[str, Any]:
    """The configuration as JSON-able data with every secret masked (only where it comes from is shown)."""
    return _mask(config.raw)


MASK = "********"
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Schemes SQLAlchemy connects with (a driver may follow: postgresql+psycopg): masked with its own parser,
# so that what is hidden is exactly what it would send as the password.
_DATABASE_SCHEMES = {"sqlite", "postgresql", "postgres", "psql", "mysql", "mariadb", "oracle", "mssql",
                     "cockroachdb"}


def inline_secrets(config: Config) -> list[tuple[str, ...]]:
    """Where a secret's value is written in a file (``password = "…"``) instead of naming an environment
    variable (``password_env``) or a secret file (``password_file``): the settings' locations, never values."""
    found: list[tuple[str, ...]] = []

    def walk(value: Any, loc: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, (*loc, str(key)))
        elif loc and _secret_name(loc[-1]) and not loc[-1].lower().endswith(("_env", "_file", "_url")) \
                and isinstance(value, str) and value:
            found.append(loc)

    walk(config.raw, ())
    return found


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if _secret_name(key):
        if key.lower().endswith(("_env", "_file")):
            return value  # the name of an env variable or a file path, not the secret
        return MASK
    if isinstance(value, str) and _URL.match(value.strip()):
        return mask_url(value)
    return value


def mask_url(url: str) -> str:
    """A URL without its secrets: the password and every query parameter named like a secret become
    ``***``; a URL that cannot be parsed is masked entirely.

    Database URLs are read with SQLAlchemy's own parser (``make_url``), which is how koppel connects,
    so a password with ``/`` or ``@`` in it, one after an empty user name or one given as
    ``?password=`` is recognised exactly as it would be used. Other URLs (https, ldap …) are read
    with :func:`urllib.parse.urlsplit`; one with an ``@`` that is not in its authority part is
    ambiguous (``https://user:pa/ss@host``) and masked entirely.
    """
    text = url.strip()
    scheme = _URL.match(text)
    if scheme is None:
        return MASK
    try:
        if scheme.group(1).split("+", 1)[0].lower() in _DATABASE_SCHEMES:
            return _mask_database_url(text)
        return _mask_other_url(text)
    except Exception:  # whatever the parsers make of it, an unreadable URL shows nothing
        return MASK


def _mask_database_url(text: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(text)
    if "@" in (url.host or "") or "@" in (url.username or ""):
        return MASK  # an '@' in the password itself: which part is the host is anybody's guess
    secret = [k for k in url.query if _secret_name(k)]
    if url.password is None and not secret:
        return text
    if secret:
        url = url.update_query_dict({k: "***" for k in secret})
    return url.render_as_string(hide_password=True).replace("=%2A%2A%2A", "=***")  # as the password shows


def _mask_other_url(text: str) -> str:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(text)
    if "@" in text.split("?", 1)[0].split("#", 1)[0] and "@" not in parts.netloc:
        return MASK
    parts.port  # noqa: B018 - raises on a port that is not a number: masked entirely
    netloc, query, fragment = parts.netloc, parts.query, parts.fragment
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_secret_name(k) for k, _ in pairs):
        query = urlencode([(k, "***" if _secret_name(k) else v) for k, v in pairs], safe="*/:")
    if any(_secret_name(k) for k, _ in parse_qsl(fragment, keep_blank_values=True)):
        fragment = "***"
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return text
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def configuration_problems(exc: KoppelError) -> list[str]:
    if isinstance(exc, ConfigError):
        return [str(p) for p in exc.problems]
    return [str(exc)]
