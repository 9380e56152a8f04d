"""A bulk export plus its deltas, applied in order: one complete table per file, keyed by sourcedId.

The rule that keeps a run safe: the first export (``path``) must be *bulk* for every file koppel
needs. A delta says what changed since some earlier export; on its own it cannot tell who is
still there, so reading it as a roster would make everyone it does not mention "leave". A delta
is therefore only ever applied on top of a bulk, and one that arrives alone is refused with a
message that says how to configure it.

Applying an export, file by file, as its manifest says: ``bulk`` replaces the table, ``delta``
adds or replaces the rows with ``status=active`` and removes those with ``status=tobedeleted``,
``absent`` leaves the table as it was. The sourcedIds a delta removed are remembered, so that a
reference to something deleted is reported as such rather than as a broken reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from koppel.errors import SourceDataError
from koppel.model.roster import Severity
from koppel.sources.oneroster.archive import Package
from koppel.sources.oneroster.tables import (
    FILE_SPECS,
    FileMode,
    Manifest,
    Reporter,
    Row,
    parse_manifest,
    read_rows,
)

__all__ = ["REQUIRED_FILES", "Dataset", "Export", "load_dataset", "read_export"]

REQUIRED_FILES = {
    "1.1": ("orgs", "users", "classes", "enrollments"),
    "1.2": ("orgs", "users", "roles", "classes", "enrollments"),
}


@dataclass(frozen=True, slots=True)
class Export:
    """One opened export and its manifest."""

    package: Package
    manifest: Manifest


@dataclass
class Dataset:
    """The tables after every export was applied, and what the deltas removed."""

    version: str
    tables: dict[str, dict[str, Row]] = field(default_factory=dict)
    deleted: dict[str, set[str]] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)  # files some export delivered (bulk or delta)

    def table(self, name: str) -> dict[str, Row]:
        return self.tables.get(name, {})

    def was_deleted(self, name: str, sourced_id: str) -> bool:
        return sourced_id in self.deleted.get(name, ())


def read_export(package: Package) -> Export:
    if not package.has("manifest.csv"):
        raise SourceDataError(
            f"{package.display} has no manifest.csv; a OneRoster export starts with one (oneroster.version "
            "and file.<name> = bulk|delta|absent)"
        )
    manifest = parse_manifest(package.read("manifest.csv", 1024 * 1024), f"{package.display}/manifest.csv")
    return Export(package, manifest)


def _require_bulk_base(base: Export) -> None:
    required = REQUIRED_FILES[base.manifest.version]
    display = base.package.display
    for name in required:
        mode = base.manifest.mode(name)
        if mode is FileMode.DELTA:
            raise SourceDataError(
                f"{display}: manifest.csv marks {name}.csv as delta. A delta holds only the changes since an "
                "earlier export, so it is not a complete roster and is never read as one: set path to the "
                "bulk export it applies to and list this export under deltas"
            )
        if mode is FileMode.ABSENT:
            said = "marks it absent" if name in base.manifest.modes else "does not list it"
            raise SourceDataError(
                f"{display}: {name}.csv is required to read a roster, but manifest.csv {said}"
            )
        if not base.package.has(f"{name}.csv"):
            raise SourceDataError(
                f"{display}: {name}.csv is missing, although manifest.csv lists file.{name} as {mode.value}; "
                f"a OneRoster export without {name}.csv cannot be read"
            )


def _apply(dataset: Dataset, export: Export, report: Reporter, max_bytes: int) -> None:
    package, manifest = export.package, export.manifest
    for name, spec in FILE_SPECS[dataset.version].items():
        mode = manifest.mode(name)
        present = package.has(spec.file)
        if mode is FileMode.ABSENT:
            if present:
                report(
                    Severity.WARNING,
                    "absent-file-present",
                    f"manifest.csv marks {name} absent; {spec.file} is ignored",
                    f"{package.display}/{spec.file}",
                    None,
                    None,
                )
            continue
        if not present:
            raise SourceDataError(
                f"{package.display}: {spec.file} is missing, although manifest.csv lists file.{name} as "
                f"{mode.value}"
            )
        display = f"{package.display}/{spec.file}"
        rows = read_rows(package.read(spec.file, max_bytes), display, spec, mode, report)
        dataset.present.add(name)
        if mode is FileMode.BULK:
            dataset.tables[name] = _bulk(rows, report)
            dataset.deleted.pop(name, None)
        else:
            _delta(dataset, name, rows, report)


def _bulk(rows: list[Row], report: Reporter) -> dict[str, Row]:
    table: dict[str, Row] = {}
    for row in rows:
        first = table.get(row.sourced_id)
        if first is not None:
            report(
                Severity.ERROR,
                "duplicate-sourcedid",
                f"sourcedId {row.sourced_id} was already used at line {first.line}; this row is left out",
                row.file,
                row.line,
                "sourcedId",
            )
            continue
        table[row.sourced_id] = row
    return table


def _delta(dataset: Dataset, name: str, rows: list[Row], report: Reporter) -> None:
    table = dataset.tables.setdefault(name, {})
    deleted = dataset.deleted.setdefault(name, set())
    for row in rows:
        if row.status == "tobedeleted":
            if table.pop(row.sourced_id, None) is None and row.sourced_id not in deleted:
                report(
                    Severity.WARNING,
                    "delete-unknown",
                    f"{row.sourced_id} is marked tobedeleted but was not there",
                    row.file,
                    row.line,
                    "sourcedId",
                )
            deleted.add(row.sourced_id)
        else:
            table[row.sourced_id] = row
            deleted.discard(row.sourced_id)


def load_dataset(base: Export, deltas: list[Export], report: Reporter, max_bytes: int) -> Dataset:
    """Apply ``deltas`` in order on top of the bulk ``base``; refuse a base that is not bulk."""
    version = base.manifest.version
    _require_bulk_base(base)
    for delta in deltas:
        if delta.manifest.version != version:
            raise SourceDataError(
                f"{delta.package.display} is OneRoster {delta.manifest.version}, but the bulk export "
                f"{base.package.display} is {version}; deltas must match their bulk"
            )
    dataset = Dataset(version)
    for export in (base, *deltas):
        _apply(dataset, export, report, max_bytes)
    return dataset
