"""Helpers: an SDS target on a temporary folder, and reading a published CSV set back (as SDS would: by header)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from koppel.connectors import ConnectorContext
from koppel.targets.sds import SdsSettings, SdsTarget, factory
from koppel.targets.sds.mapping import FILES

TODAY = dt.date(2025, 10, 1)


def make_target(folder: Path, *, name: str = "sds", env: dict[str, str] | None = None, **settings: Any) -> SdsTarget:
    values: dict[str, Any] = {"folder": str(folder), "username_domain": "school.example", **settings}
    target = factory(name, SdsSettings.model_validate(values), ConnectorContext(tenant="t", base_dir=folder,
                                                                               env=env or {}))
    target._today = lambda: TODAY
    return target


def read_set(flow_folder: Path) -> dict[str, list[dict[str, str]]]:
    """Every file of a published set as rows by header; checks what SDS asks of every file on the way."""
    assert sorted(p.name for p in flow_folder.iterdir()) == sorted(FILES), "always the same seven files"
    tables: dict[str, list[dict[str, str]]] = {}
    for name in FILES:
        raw = (flow_folder / name).read_bytes()
        text = raw.decode("utf-8")  # UTF-8 (strict)
        assert not text.startswith("\ufeff"), f"{name}: no byte order mark"
        assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), f"{name}: CRLF lines (RFC 4180)"
        rows = list(csv.reader(text.splitlines()))
        header, body = rows[0], rows[1:]
        assert all(len(row) == len(header) for row in body), f"{name}: every row has every column"
        tables[name] = [dict(zip(header, row, strict=True)) for row in body]
    return tables


def header(flow_folder: Path, name: str) -> list[str]:
    with open(flow_folder / name, encoding="utf-8", newline="") as f:
        return next(csv.reader(f))
