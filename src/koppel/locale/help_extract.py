"""A Babel extractor for the command line: its gettext calls, and its ``--help`` texts.

Typer takes a command's help from its function's docstring and an option's from ``help=`` — plain English
strings evaluated at import, not gettext calls. The command line looks each of them up in the catalogue when
it formats the help (:mod:`koppel.cli.localised_help`), with the English text as msgid; this extractor finds
them for ``pybabel extract`` (babel.cfg names it as ``koppel.locale.help_extract.extract_cli``):

- the docstring of a function decorated with ``@<app>.command(...)`` or ``@<app>.callback(...)``, as Typer
  reads it (``inspect.cleandoc``);
- the ``help=``, ``short_help=`` and ``epilog=`` strings of any call (``typer.Option``, ``typer.Argument``,
  ``typer.Typer``, ``app.command`` …);

plus everything Babel's own Python extractor finds (``t._("…")``, ``t.ngettext(…)``).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.extract import extract_python

__all__ = ["extract_cli", "help_texts"]

_HELP_KEYWORDS = ("help", "short_help", "epilog")
_DECORATORS = ("command", "callback")


def extract_cli(fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str],
                options: Mapping[str, Any]) -> Iterator[tuple[int, Any, Any, Any]]:
    """Babel's ``python`` extraction of ``fileobj``, then its help texts."""
    yield from extract_python(fileobj, keywords, comment_tags, options)  # type: ignore[arg-type]
    fileobj.seek(0)
    source = fileobj.read().decode(str(options.get("encoding", "utf-8")))
    for line, text in help_texts(source):
        yield line, "_", text, []


def help_texts(source: str) -> Iterator[tuple[int, str]]:
    """``(line, text)`` for every help text in the Python ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_command, node.decorator_list)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield node.body[0].lineno, inspect.cleandoc(doc)
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if (keyword.arg in _HELP_KEYWORDS and isinstance(keyword.value, ast.Constant)
                        and isinstance(keyword.value.value, str) and keyword.value.value.strip()):
                    yield keyword.value.lineno, keyword.value.value


def _is_command(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in _DECORATORS
