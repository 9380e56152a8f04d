"""The takeover's mapping CSV: the matches a school states where koppel's rules cannot make them.

Two columns, ``sync id,koppel key``, one match per line::

    sync id,koppel key
    EC_38XC_100105,las:38XC00:100105
    jdevries,las:38XC00:mw:1029
    F3A9C1E2-0B7D-4E55-9C64-2B1D7A0E4411,-

The first column is the site object's sync id — or, for an account made by hand (which has none), its
user name. The second is koppel's key of the LAS object (the takeover's CSV report lists them), or
``-``: this site object is no one's, leave it alone. A header line, blank lines and lines starting with
``#`` are skipped; ``;`` works as the separator too (a spreadsheet saved as CSV in Dutch settings).

A file that cannot be read as such is refused with every problem and its line, before anything else
happens: a mapping is a statement of fact by the school, and half of one is not used.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from koppel.errors import ConfigError, ConfigProblem

__all__ = ["LEAVE_ALONE", "MappingFile", "MappingRow", "parse_mapping", "read_mapping"]

LEAVE_ALONE = "-"
_HEADERS = {("sync id", "koppel key"), ("sync_id", "koppel_key"), ("syncid", "koppelkey")}


@dataclass(frozen=True, slots=True)
class MappingRow:
    site_id: str  # a sync id, or the user name of an account made by hand
    key: str | None  # koppel's key; None: leave the site object alone
    line: int


@dataclass(frozen=True)
class MappingFile:
    path: str
    rows: tuple[MappingRow, ...]

    def where(self, row: MappingRow) -> str:
        return f"{self.path}:{row.line}"


def read_mapping(path: Path) -> MappingFile:
    """Read and check the mapping CSV at ``path``; ConfigError listing every problem with its line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([ConfigProblem("mapping CSV not found", file=str(path))]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(f"cannot read the mapping CSV: {exc.strerror}", file=str(path))]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(f"the mapping CSV is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                         "save it as CSV UTF-8", file=str(path))]) from None
    return parse_mapping(text, path=str(path))


def parse_mapping(text: str, *, path: str = "<mapping>") -> MappingFile:
    text = text.removeprefix("\ufeff")
    first = next((line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    delimiter = ";" if ";" in first and "," not in first else ","
    problems: list[ConfigProblem] = []
    rows: list[MappingRow] = []
    seen_ids: dict[str, int] = {}
    seen_keys: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in cells]
            if not rows and not problems and tuple(c.lower() for c in cells) in _HEADERS:
                continue
            if len(cells) != 2:
                problems.append(ConfigProblem(f"expected 2 columns (sync id,koppel key), found {len(cells)}: "
                                              f"{delimiter.join(cells)!r}", file=path, line=line))
                continue
            site_id, key = cells
            if not site_id or not key:
                problems.append(ConfigProblem("both columns need a value (use '-' as koppel key to leave the "
                                              "site object alone)", file=path, line=line))
                continue
            folded = site_id.casefold()
            if folded in seen_ids:
                problems.append(ConfigProblem(f"sync id {site_id!r} is mapped twice (also on line "
                                              f"{seen_ids[folded]})", file=path, line=line))
                continue
            seen_ids[folded] = line
            if key != LEAVE_ALONE:
                if key in seen_keys:
                    problems.append(ConfigProblem(f"koppel key {key!r} is mapped twice (also on line "
                                                  f"{seen_keys[key]}): one LAS object has one account",
                                                  file=path, line=line))
                    continue
                seen_keys[key] = line
            rows.append(MappingRow(site_id, None if key == LEAVE_ALONE else key, line))
    except csv.Error as exc:
        problems.append(ConfigProblem(f"not a CSV file: {exc}", file=path, line=reader.line_num))
    if problems:
        raise ConfigError(problems)
    return MappingFile(path, tuple(rows))
