"""``--help`` in the user's language: one seam for every command.

Typer evaluates help texts at import (docstrings, ``help=`` strings), in English. The root group is a
:class:`LocalisedGroup`; it makes every command it hands out (and every sub-group's commands, in turn) a
localised one, so no command needs code of its own. When click formats a help page, the localised class looks
the command's help, its parameters' help and the sub-commands' one-line summaries up in the CLI's gettext
catalogue — the English text is the msgid (``pybabel extract`` finds them with
:mod:`koppel.locale.help_extract`) — and the few words of the help's frame (Usage, Options, [default: …]) too.
Option names, metavars, defaults and examples stay as written. Nothing changes in English; the texts are put
back after formatting.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from typer import rich_utils
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

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """The root group takes ``--lang`` before anything else, so that `koppel --help --lang nl` is Dutch too
        (click handles --help as soon as it meets it)."""
        if ctx.parent is None:
            chosen = _lang_option(args, self.commands)
            if chosen in SUPPORTED:
                use_language(with_core_phrases(language(chosen)))
        return super().parse_args(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return _localise(super().get_command(ctx, cmd_name))


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
