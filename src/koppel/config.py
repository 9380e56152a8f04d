"""Typed, layered, self-describing configuration: ``koppel.toml``, then secret files, then environment.

Every problem is collected and reported at once, each with the file, the line and the setting, so a
systeembeheerder fixes the whole file in one go instead of one error per run. Source and target
tables are validated by the settings model their ``kind`` registers (``koppel connectors describe``).

Layout::

    [state]
    url = "sqlite:///koppel-state.db"      # or postgresql://user@host/db; env KOPPEL_STATE_URL wins

    [tenants.<id>]                          # a bestuur (or a school)
    name = "…"
    [tenants.<id>.sources.<name>]           # kind = "csv" | …; the name is part of every key: keep it
    [tenants.<id>.targets.<name>]           # kind = "itslearning" | "fake"; plus [.rules] [.policy] …
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    "PolicySettings",
    "RetrySettings",
    "ScheduleSettings",
    "SettingLocator",
    "SourceConfig",
    "TargetConfig",
    "TenantConfig",
    "YearChoice",
    "load_config",
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


class ScheduleSettings(_Strict):
    """When `koppel serve` runs this target. Give an interval or a cron expression."""

    enabled: bool = Field(False, description="Run on this schedule in `koppel serve`.")
    interval: str | None = Field(None, description="Every so long, e.g. '15m', '2h', '1d'.")
    cron: str | None = Field(None, description="Cron expression (minute hour day month weekday), e.g. '0 6 * * 1-5'.")
    windows: list[str] = Field(default_factory=list, description="Allowed time windows, e.g. ['22:00-06:00'] "
                               "(Somtoday pupil data only at night). Empty = any time.")
    pauses: list[str] = Field(default_factory=list, description="Pause periods as 'MM-DD..MM-DD', e.g. "
                              "['07-10..08-15'] for the summer freeze.")
    timezone: str = Field("Europe/Amsterdam", description="Time zone of the cron expression and the windows.")


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

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

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

        return ConnectorContext(tenant=tenant.id, base_dir=self.base_dir, env=dict(env if env is not None else os.environ),
                                school_year=school_year, retry=retry)

    def where(self, loc: tuple[str, ...]) -> str | None:
        """``/full/path/koppel.toml:line`` of a setting (or of its table when the key is not written); None when
        the configuration was not read from a file."""
        if self.path is None:
            return None
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return str(self.path.absolute())
        line = SettingLocator(text)(loc)
        return f"{self.path.absolute()}:{line}" if line else str(self.path.absolute())

    def state_url(self, env: Mapping[str, str] | None = None) -> str:
        import os

        env = env if env is not None else os.environ
        return env.get("KOPPEL_STATE_URL") or self.state.url


# -- loading --------------------------------------------------------------------------------


_TENANT_KEYS = {"name", "school_year", "year_start", "validation", "sources", "targets"}
_TARGET_GENERIC = {"kind", "enabled", "rules", "policy", "retry", "schedule"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate ``path``; raise ConfigError listing every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem("configuration file not found (create one with `koppel init`)",
                                         file=str(path))]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(f"not UTF-8 text: {exc.reason}", file=str(path))]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(f"cannot read: {exc.strerror}", file=str(path))]) from None
    return parse_config(text, path=path)


def parse_config(text: str, *, path: Path | None = None) -> Config:
    fname = str(path) if path else "<config>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([ConfigProblem(f"not valid TOML: {msg}", file=fname, line=line)]) from None
    locate = SettingLocator(text)
    problems: list[ConfigProblem] = []

    def problem(message: str, loc: tuple) -> None:
        setting = ".".join(str(p) for p in loc)
        problems.append(ConfigProblem(message, setting=setting or None, file=fname, line=locate(loc)))

    state = validate_section(StateSettings, raw.get("state", {}), ("state",), problem)
    log = validate_section(LogSettings, raw.get("log", {}), ("log",), problem)
    for key in raw:
        if key not in ("state", "log", "tenants", "service"):
            problem(f"unknown section {key!r} (known: state, log, service, tenants)", (key,))
    tenants_raw = raw.get("tenants")
    tenants: dict[str, TenantConfig] = {}
    if not isinstance(tenants_raw, dict) or not tenants_raw:
        problem("no tenants configured: add a [tenants.<id>] section (`koppel init` writes one)", ("tenants",))
    else:
        for tid, traw in tenants_raw.items():
            tenant = _tenant(tid, traw, problem)
            if tenant is not None:
                tenants[tid] = tenant
    if problems:
        raise ConfigError(problems)
    return Config(path=path, state=state, log=log, tenants=tenants, raw=raw, service=raw.get("service", {}))


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
    return f"unknown setting {name!r}{hint}"


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


def _tenant(tid: str, traw: Any, problem) -> TenantConfig | None:
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
            problem(f"unknown setting {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""), loc + (key,))
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
    if validation is None:
        return None
    return TenantConfig(
        id=tid, name=str(traw.get("name", tid)), school_year=school_year, year_start=year_start,
        validation=validation, sources=sources, targets=targets,
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
        table: tuple[str, ...] = ()
        for lineno, line in enumerate(text.splitlines(), start=1):
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
