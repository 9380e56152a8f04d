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
    """``(line, text)`` for every help text in the Python ``source``. A help text may be built from string
    constants (``help="The role: " + ROLE_HELP``, ``ROLE_HELP`` a module-level string): it is folded."""
    tree = ast.parse(source)
    names: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            value = _folded(statement.value, names)
            if value is not None:
                names[statement.targets[0].id] = value
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_command, node.decorator_list)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield node.body[0].lineno, inspect.cleandoc(doc)
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                text = _folded(keyword.value, names) if keyword.arg in _HELP_KEYWORDS else None
                if text and text.strip():
                    yield keyword.value.lineno, text


def _folded(node: ast.expr, names: dict[str, str]) -> str | None:
    """The string ``node`` stands for when it is made of string constants (and names bound to them)."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded(node.left, names), _folded(node.right, names)
        return left + right if left is not None and right is not None else None
    return None


def _is_command(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr in _DECORATORS
