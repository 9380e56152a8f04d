"""What every command shares: options, error handling, output in text or JSON, logging, progress.

Text from a LAS (names, group names, reasons that quote them) and from a platform is data, never a
terminal control: everything the command line prints goes through :func:`koppel.textsafe.printable`
line by line (``out`` and ``err`` do it themselves), and JSON output escapes the few characters JSON
itself leaves raw that a terminal would act on (C1 controls, bidi overrides, line separators).

Errors never end in a traceback: koppel's own errors print their message and exit with their family's
code (docs/cli.md), a state store that fails underneath (a database or file error) prints what failed
and what to do (exit 1), and so does a file that cannot be written (a full disk).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import orjson
import structlog
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from koppel.errors import ConfigError, KoppelError
from koppel.locale import Language, language
from koppel.textsafe import printable

F = TypeVar("F", bound=Callable[..., Any])


def terminal_safe(text: str) -> str:
    """``text`` with every control and bidi character shown as an escape, keeping its lines and tabs."""
    return "\n".join("\t".join(printable(part) for part in line.split("\t")) for line in text.split("\n"))


class SafeConsole(Console):
    """A rich console that never sends a control character it was given in text: an ESC in a pupil's name
    is printed as ``\x1b``, a right-to-left override as ``\u202e``. Rich's own styling still works."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(terminal_safe(o) if isinstance(o, str) else o for o in objects), **kwargs)


out = SafeConsole(highlight=False, soft_wrap=True)
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)

_JSON_RAW = re.compile(rb"\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c")


def json_terminal_safe(data: bytes) -> bytes:
    """JSON (UTF-8) whose strings show C1 controls, bidi controls and line separators as ``\\uXXXX`` escapes:
    the same JSON to a parser, nothing a terminal acts on (JSON already escapes ESC and the C0 controls)."""
    if _JSON_RAW.search(data) is None:
        return data
    return _JSON_RAW.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)


class JsonTerminalSafe:
    """A binary stream that passes JSON through :func:`json_terminal_safe` (for ``Plan.write_json``, whose
    every write is whole JSON tokens)."""

    def __init__(self, raw: Any):
        self.raw = raw

    def write(self, data: bytes) -> int:
        self.raw.write(json_terminal_safe(bytes(data)))
        return len(data)

    def flush(self) -> None:
        self.raw.flush()


def _flags_show_no_metavar() -> None:
    """Typer's help shows ``<bool>`` after every flag (``--all <bool>``), as if it took a value; a flag and a
    counter (``-v``) take none, so their help shows no metavar at all."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_koppel", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return shown(self, ctx)

    display_type_rich._koppel = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_metavar()


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


def default_config() -> Path:
    return Path(os.environ.get("KOPPEL_CONFIG", "koppel.toml"))


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Configuration file (env KOPPEL_CONFIG).",
                                         envvar="KOPPEL_CONFIG", show_default="koppel.toml")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant id (needed when the file has several).")]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Target name (needed when the tenant has several).")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.", case_sensitive=False)]
YearOpt = Annotated[str | None, typer.Option("--year", "-y", help="School year to read, e.g. 2026-2027 "
                                             "(previews the jaarovergang).")]


YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (for scripts). Without it koppel "
                                      "shows the plan and asks; with no terminal to ask on, it refuses (exit 2).")]


_LANGUAGE: dict[str, Language] = {}


def use_language(chosen: Language) -> None:
    """The language of this command's output (set by the global options, before the command runs)."""
    _LANGUAGE["current"] = chosen


def current_language() -> Language:
    """The language chosen for this command (``--lang``, ``KOPPEL_LANG``, the locale; English by default)."""
    if "current" not in _LANGUAGE:
        from koppel.locale import choose

        _LANGUAGE["current"] = with_core_phrases(language(choose(None, os.environ)))
    return _LANGUAGE["current"]


def with_core_phrases(chosen: Language) -> Language:
    """``chosen``, saying the core's English reasons and holds in its language with the phrasebook the dashboard
    uses (:mod:`koppel.service.i18n`), so that the CLI and the dashboard word them alike."""
    if chosen.code == "en":
        return chosen
    from koppel.service import i18n

    translator = getattr(i18n, "Translator", None)
    say = getattr(translator(chosen.code), "say", None) if translator is not None else None
    return chosen.with_phrases(say) if callable(say) else chosen


def refuse_without_terminal(yes: bool, what: str = "apply") -> None:
    """Before anything is read or applied: without ``--yes`` koppel must ask, and without a terminal it cannot
    — a usage error (exit 2), nothing done."""
    if yes or sys.stdin.isatty():
        return
    t = current_language()
    raise fail(t._("`koppel {command}` shows the plan and asks before it changes anything, and there is no terminal "
                   "to ask on (stdin is not a terminal). Review the plan with `koppel plan`, then run it again with "
                   "--yes (-y) to apply without asking. Nothing was applied.").format(command=what), code=2)


def confirm_apply(count: int, *, yes: bool) -> None:
    """Ask ``Apply these N changes?`` on the terminal; anything but ``yes`` applies nothing (exit 1). The answer
    is ``yes`` in every language, as terraform asks it."""
    if yes:
        return
    refuse_without_terminal(yes)
    t = current_language()
    question = t.ngettext("Apply this {n} change? Only 'yes' will be accepted: ",
                          "Apply these {n} changes? Only 'yes' will be accepted: ", count).format(n=t.num(count))
    err.print("\n" + question, markup=False, end="")
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    if answer.strip() != "yes":
        err.print(t._("Apply cancelled: nothing was applied."), markup=False)
        raise typer.Exit(1)


def emit_json(data: Any) -> None:
    raw = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    sys.stdout.write(json_terminal_safe(raw).decode() + "\n")
    sys.stdout.flush()


_fast_exit = {"enabled": False}


def enable_fast_exit() -> None:
    """Called by the console script only: a command run by a test runner ends the normal way."""
    _fast_exit["enabled"] = True


def finish(code: int = 0, *, store: Any = None) -> NoReturn:
    """End a command that built a large plan, without freeing it object by object.

    A plan of a million changes takes 0.7 s to free when the command's frame is dropped, work the
    operating system does at once when the process ends. Run as the console script, this flushes the
    output, closes the state store and logging, and leaves with ``os._exit`` (as mypy ends its runs);
    under a test runner it raises ``typer.Exit`` as usual."""
    if not _fast_exit["enabled"]:
        raise typer.Exit(code)
    if store is not None:
        store.close()
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def fail(message: str, code: int = 1) -> typer.Exit:
    _error(message)
    return typer.Exit(code)


def _error(message: str) -> None:
    """``error: message`` on stderr (the label in the user's language; the message is shown, never markup)."""
    label = current_language()._("error:")
    err.print(f"[bold red]{_escape(label)}[/] {_escape(message)}", markup=True, highlight=False)


def report_error(exc: KoppelError) -> None:
    """Show one of koppel's errors as `handle_errors` does (in the user's language, naming the setting's file and
    line where it has one), for a command that goes on after it (`koppel sync` over several targets)."""
    from koppel.cli.error_text import describe

    origin = None if isinstance(exc, ConfigError) else _setting_origin(exc)
    _error(describe(exc, current_language()) + (f"\n  {origin}" if origin else ""))


def handle_errors(func: F) -> F:
    """Turn koppel's errors into a clear message and the exit code their family prescribes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KoppelError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print(current_language()._("interrupted"))
            raise typer.Exit(130) from None
        except BrokenPipeError:  # `koppel plan | head`: the reader has all it wanted
            _quiet_stdout()
            raise typer.Exit(1) from None
        except OSError as exc:  # a file koppel writes (a plan, a report) on a full or read-only disk
            where = f"{exc.filename}: " if exc.filename else ""
            _error(where + (exc.strerror or str(exc)))
            raise typer.Exit(1) from None
        except Exception as exc:
            problem = _state_problem(exc)
            if problem is None:
                raise
            _error(str(problem))
            raise typer.Exit(problem.exit_code) from None

    return wrapper  # type: ignore[return-value]


_LOADED: dict[str, Any] = {}


def remember_config(config: Any) -> None:
    """The configuration this command loaded: an error about a setting's value can then name its file and line."""
    _LOADED["config"] = config


def _setting_origin(exc: KoppelError) -> str | None:
    """For an error about a path a source setting gave (``export not found``): the configuration file and line
    that set it, ``set by koppel.toml:9 (tenants.school.sources.las.path = "exprt")``."""
    config, path, setting = _LOADED.get("config"), getattr(exc, "path", None), getattr(exc, "setting", None)
    if config is None or not isinstance(path, Path) or not isinstance(setting, str):
        return None
    for tenant in config.tenants.values():
        for source in tenant.sources.values():
            value = getattr(source.settings, setting, None)
            if isinstance(value, str) and _same_path(config.tenant_dir(tenant), value, path):
                loc = ("tenants", tenant.id, "sources", source.name, setting)
                return current_language()._("set by {where} ({setting} = {value})").format(
                    where=config.where(loc) or "?", setting=".".join(loc), value=orjson.dumps(value).decode())
    return None


def _same_path(base: Path, value: str, path: Path) -> bool:
    """Whether the setting ``value`` (relative to ``base``, perhaps with ``{school_year}``) gives ``path``."""
    configured = str((base / Path(value).expanduser()).absolute())
    pattern = re.escape(configured).replace(re.escape("{school_year}"), r"\d{4}-\d{4}")
    return re.fullmatch(pattern, str(path)) is not None


def _state_problem(exc: Exception) -> KoppelError | None:
    """A database error that escaped the state store's own translation, as its clear message (never SQL,
    parameters or a password); None for anything else — a bug, which keeps its traceback."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return None
    from sqlalchemy.exc import DBAPIError

    from koppel.state.store import state_unavailable

    return state_unavailable(exc) if isinstance(exc, DBAPIError) else None


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def configure_logging(level: str = "warning", fmt: str = "text") -> None:
    numeric = getattr(logging, level.upper(), logging.WARNING)
    _stdlib_json(numeric if fmt == "json" else None)
    if fmt != "json":
        logging.basicConfig(level=numeric, stream=sys.stderr, format="%(message)s")
        logging.getLogger().setLevel(numeric)  # also when the root logger had a handler (json before)
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # Looked up per logger, not bound once: whatever sys.stderr is *now* (a test runner swaps it).
        logger_factory=lambda *_args: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (as the structlog logger does)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignored: StreamHandler assigns its stream; this handler always writes to the current sys.stderr."""


def _stdlib_json(level: int | None) -> None:
    """With --log-format json, the standard library's loggers (alembic, procrastinate, httpx) write JSON too,
    with the same context (tenant, target, run id), so every line on stderr parses; None removes it again."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "koppel-json"]:
        root.removeHandler(handler)
    if level is None:
        return
    handler = _StderrHandler()
    handler.set_name("koppel-json")
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(),
        foreign_pre_chain=[structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
                           structlog.stdlib.add_logger_name, structlog.processors.TimeStamper(fmt="iso", utc=True),
                           _redact],
    ))
    root.addHandler(handler)
    root.setLevel(level)


def _redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never log a secret, even when someone passes one by mistake."""
    for key in list(event):
        lowered = key.lower()
        if any(w in lowered for w in ("password", "secret", "token", "sleutel")) and not lowered.endswith(("_env", "_file")):
            event[key] = "********"
    return event


@contextmanager
def progress_bar(total: int, description: str, *, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr for long applies; a no-op when not on a terminal or for small work."""
    if not enabled or total < 200 or not err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, _total: int) -> None:
            bar.update(task, completed=done)

        yield update
