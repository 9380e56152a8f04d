"""``--help`` in the user's language: one seam for every command.

Typer evaluates help texts at import (docstrings, ``help=`` strings), in English. The root group is a
:class:`LocalisedGroup`; it makes every command it hands out (and every sub-group's commands, in turn) a
localised one, so no command needs code of its own. When click formats a help page, the localised class looks
the command's help, its parameters' help and the sub-commands' one-line summaries up in the CLI's gettext
catalogue — the English text is the msgid (``pybabel extract`` finds them with
:mod:`koppel.locale.help_extract`) — and the few words of the help's frame (Usage, Options, [default: …]) too.
Option names, metavars, defaults and examples stay as written. Nothing changes in English; the texts are put
back after formatting.

A usage error (an unknown option or command, a missing argument, a value of the wrong type) is said in the
chosen language too: its message, the ``Fout`` panel's title and the hint to ``-h``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from typer import rich_utils
from typer._click.exceptions import ClickException, UsageError
from typer.core import TyperCommand, TyperGroup

from koppel.cli.common import current_language, use_language, with_core_phrases
from koppel.locale import SUPPORTED, Language, language

__all__ = ["LocalisedCommand", "LocalisedGroup"]


def N_(text: str) -> str:  # gettext's name for "extract this, translate it later"
    return text


# click's own help texts that reach a koppel help page (the --help option's), for `pybabel extract`
_CLICK_TEXTS = (N_("Show this message and exit."),)


def _frame(t: Language) -> dict[str, str]:
    """The words of the help page's frame, in ``t``'s language, by the names Typer keeps them under."""
    return {
        "ARGUMENTS_PANEL_TITLE": t._("Arguments"),
        "OPTIONS_PANEL_TITLE": t._("Options"),
        "COMMANDS_PANEL_TITLE": t._("Commands"),
        "DEFAULT_STRING": t._("[default: {}]"),
        "ENVVAR_STRING": t._("[env var: {}]"),
        "REQUIRED_LONG_STRING": t._("[required]"),
        "DEPRECATED_STRING": t._("(deprecated) "),
    }


@contextmanager
def _swapped(obj: Any, values: dict[str, Any]) -> Iterator[None]:
    before = {name: getattr(obj, name) for name in values}
    try:
        for name, value in values.items():
            setattr(obj, name, value)
        yield
    finally:
        for name, value in before.items():
            setattr(obj, name, value)


def _texts(t: Language, thing: Any, names: tuple[str, ...]) -> dict[str, str]:
    return {name: t._(getattr(thing, name)) for name in names if getattr(thing, name, None)}


@contextmanager
def localised(command: Any, ctx: Any) -> Iterator[None]:
    """While a help page is formatted: ``command``'s texts, its parameters', its sub-commands' and the frame's in
    the chosen language (English: nothing changes)."""
    t = current_language()
    if t.code == "en":
        yield
        return
    with ExitStack() as stack:
        stack.enter_context(_swapped(rich_utils, _frame(t)))
        stack.enter_context(_swapped(command, _texts(t, command, ("help", "short_help", "epilog"))))
        for param in command.get_params(ctx):
            stack.enter_context(_swapped(param, _texts(t, param, ("help",))))
        if isinstance(command, TyperGroup):
            for sub in command.commands.values():
                stack.enter_context(_swapped(sub, _texts(t, sub, ("help", "short_help"))))
        yield


def _usage(text: str) -> str:
    """click's usage line with its ``Usage:`` label in the chosen language."""
    return text.replace("Usage:", current_language()._("Usage:"), 1)


class LocalisedCommand(TyperCommand):
    """A command whose help page is in the chosen language."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with localised(self, ctx):
            super().format_help(ctx, formatter)

    def get_usage(self, ctx: Any) -> str:
        return _usage(super().get_usage(ctx))


class LocalisedGroup(TyperGroup):
    """A group whose help page is in the chosen language, and whose commands and sub-groups are localised too."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with localised(self, ctx):
            super().format_help(ctx, formatter)

    def get_usage(self, ctx: Any) -> str:
        return _usage(super().get_usage(ctx))

    def main(self, args: Any = None, *rest: Any, **options: Any) -> Any:
        """The root group takes ``--lang`` before anything else, so that `koppel --help --lang nl` is Dutch too
        (click handles --help as soon as it meets it), and so is a usage error click reports."""
        chosen = _lang_option(list(sys.argv[1:] if args is None else args), self.commands)
        if chosen in SUPPORTED:
            use_language(with_core_phrases(language(chosen)))
        with _usage_errors_said(current_language()):
            return super().main(args, *rest, **options)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return _localise(super().get_command(ctx, cmd_name))


@contextmanager
def _usage_errors_said(t: Language) -> Iterator[None]:
    """While the command line runs: click's usage errors in ``t``'s language (English: as click says them)."""
    if t.code == "en":
        yield
        return
    shown = rich_utils.rich_format_error

    def said(exc: ClickException) -> None:
        shown(_usage_error(exc, t))

    with _swapped(rich_utils, {"rich_format_error": said, "ERRORS_PANEL_TITLE": t._("Error"),
                               "RICH_HELP": t._("Try [blue]'{command_path} {help_option}'[/] for help.")}):
        yield


def _usage_error(exc: ClickException, t: Language) -> ClickException:
    """``exc`` with its message in ``t``'s language where click's wording is known."""
    if not isinstance(exc, UsageError):
        return exc
    message = exc.format_message()
    for pattern, say in _CLICK_ERRORS:
        found = pattern.fullmatch(message)
        if found:
            return UsageError(say(found, t), ctx=exc.ctx)
    return exc


def _value_problem(problem: str, t: Language) -> str:
    for pattern, say in _VALUE_PROBLEMS:
        found = pattern.fullmatch(problem)
        if found:
            return say(found, t)
    return problem


def _suggested(m: re.Match[str], t: Language) -> str:
    return " " + t._("Did you mean {suggestions}?").format(suggestions=m["suggest"]) if m["suggest"] else ""


_Say = Callable[[re.Match[str], Language], str]
_CLICK_ERRORS: list[tuple[re.Pattern[str], _Say]] = [
    (re.compile(r"Missing command\."), lambda m, t: t._("Missing command.")),
    (re.compile(r"No such command (?P<name>'.*?')\.(?: Did you mean (?P<suggest>.+)\?)?"),
     lambda m, t: t._("No such command {name}.").format(name=m["name"]) + _suggested(m, t)),
    (re.compile(r"No such option: (?P<name>\S+)(?: Did you mean (?P<suggest>\S+)\?)?(?: \(Possible options: (?P<all>.*)\))?"),
     lambda m, t: t._("No such option: {name}").format(name=m["name"]) + _suggested(m, t)
     + (" " + t._("(Possible options: {names})").format(names=m["all"]) if m["all"] else "")),
    (re.compile(r"Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)"),
     lambda m, t: t._("Got unexpected extra arguments ({args})").format(args=m["args"])),
    (re.compile(r"Missing argument (?P<name>.+?)\.?"), lambda m, t: t._("Missing argument {name}.").format(name=m["name"])),
    (re.compile(r"Missing option (?P<name>.+?)\.?"), lambda m, t: t._("Missing option {name}.").format(name=m["name"])),
    (re.compile(r"Option (?P<name>.+) requires an argument\."),
     lambda m, t: t._("Option {name} requires an argument.").format(name=m["name"])),
    (re.compile(r"Invalid value for (?P<hint>.+?): (?P<problem>.*)", re.S),
     lambda m, t: t._("Invalid value for {hint}: {problem}").format(hint=m["hint"],
                                                                     problem=_value_problem(m["problem"], t))),
]
_VALUE_PROBLEMS: list[tuple[re.Pattern[str], _Say]] = [
    (re.compile(r"Input should be a valid integer.*"), lambda m, t: t._("not a whole number.")),
    (re.compile(r"Input should be a valid number.*"), lambda m, t: t._("not a number.")),
    (re.compile(r"(?P<value>.+) is not a valid integer(?: range)?\."),
     lambda m, t: t._("{value} is not a whole number.").format(value=m["value"])),
    (re.compile(r"(?P<value>.+) is not a valid float(?: range)?\."),
     lambda m, t: t._("{value} is not a number.").format(value=m["value"])),
    (re.compile(r"(?:Value error, )?(?P<value>.+) is not one of (?P<choices>.+)\."),
     lambda m, t: t._("{value} is not one of {choices}.").format(value=m["value"], choices=m["choices"])),
    (re.compile(r"(?P<value>.+): use en or nl"), lambda m, t: t._("{value}: use en or nl").format(value=m["value"])),
]


def _lang_option(args: list[str], commands: Any) -> str | None:
    """The value of ``--lang`` among the root's own options (before the command's name), if given."""
    for i, arg in enumerate(args):
        if arg in commands or arg == "--":
            return None
        if arg.startswith("--lang="):
            return arg.partition("=")[2].lower()
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1].lower()
    return None


def _localise(command: Any) -> Any:
    """``command`` as a localised command: Typer builds plain ``TyperCommand`` and ``TyperGroup`` objects; the
    localised classes add behaviour only (no state), so the object takes the subclass that matches it."""
    if type(command) is TyperCommand:
        command.__class__ = LocalisedCommand
    elif type(command) is TyperGroup:
        command.__class__ = LocalisedGroup
    return command
