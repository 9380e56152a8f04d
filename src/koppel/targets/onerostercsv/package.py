"""Writing a OneRoster CSV zip: manifest.csv first, then each file, row by row, into one zip stream.

The writer streams: each file's rows go through ``csv.writer`` straight into its deflated zip entry, so the
zip is never held in memory whole. CSV as the sample sets write it: UTF-8 without BOM, a header line with the
spec's column names, CRLF line ends, quotes only where a value needs them (a comma, a quote, a line break).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import zipfile
from collections.abc import Iterable, Mapping
from typing import IO

from koppel.targets.onerostercsv.mapping import COMMON, HEADERS, MANIFEST_FILES, Body

__all__ = ["PackageRow", "csv_lines", "iso_modified", "manifest_rows", "write_package"]

PackageRow = tuple[str, str, str, Body]  # sourcedId, status, dateLastModified, body


def iso_modified(moment: dt.datetime) -> str:
    """dateLastModified as the sample sets write it: ``2023-10-02T00:00:00.000Z`` (UTC, milliseconds)."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def manifest_rows(version: str, modes: Mapping[str, str], system_name: str) -> list[tuple[str, str]]:
    """manifest.csv: the versions, every file type of the version (``absent`` unless written), the source."""
    rows = [("manifest.version", "1.0"), ("oneroster.version", version)]
    rows += [(f"file.{name}", modes.get(name, "absent")) for name in MANIFEST_FILES[version]]
    rows += [("source.systemName", system_name), ("source.systemCode", system_name)]
    return rows


def csv_lines(rows: Iterable[Iterable[str]]) -> str:
    """Rows as CSV text, as the zip holds them (for previews and tests)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


def write_package(out: IO[bytes], version: str, files: Mapping[str, tuple[str, Iterable[PackageRow]]], *,
                  system_name: str, moment: dt.datetime) -> dict[str, int]:
    """Write the zip to ``out``: ``files`` maps a file name (``users``) to its mode and rows. Returns the rows
    written per file. Entries carry ``moment`` as their time, so the same publication is the same bytes."""
    stamp = moment.astimezone(dt.UTC).timetuple()[:6]
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        modes = {name: mode for name, (mode, _) in files.items()}
        _entry(archive, "manifest.csv", stamp, [("propertyName", "value"), *manifest_rows(version, modes, system_name)])
        for name, (_, rows) in files.items():
            header = (*COMMON, *HEADERS[version][name])
            lines = ((sid, status, modified, *body) for sid, status, modified, body in rows)
            counts[name] = _entry(archive, f"{name}.csv", stamp, itertools.chain((header,), lines))
    return counts


def _entry(archive: zipfile.ZipFile, name: str, stamp: tuple[int, ...], rows: Iterable[Iterable[str]]) -> int:
    info = zipfile.ZipInfo(name, date_time=stamp)  # type: ignore[arg-type]
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    written = -1  # the header is not a row
    with archive.open(info, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        writer = csv.writer(text, lineterminator="\r\n")
        for row in rows:
            writer.writerow(row)
            written += 1
    return written
