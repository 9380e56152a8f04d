"""Golden tests: the zip's files have the columns of the OneRoster sample sets (shared/specs/oneroster/, case
included), its manifest lists what theirs list, its values have their formats, and a small fixed roster gives
the committed files in tests/target_onerostercsv/golden/ byte for byte (``KOPPEL_UPDATE_GOLDEN=1`` rewrites them
after a deliberate change; review the diff)."""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from pathlib import Path

import pytest

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.model.keys import membership_key
from koppel.targets.onerostercsv.mapping import COMMON, FILES, HEADERS
from koppel.testing.conformance import change

from .roundtrip import SPECS
from .support import make_target, zips

GOLDEN = Path(__file__).parent / "golden"
SAMPLES = {"1.1": SPECS / "v1p1-bulk-minimal", "1.2": SPECS / "v1p2-delta"}
BRIN = "12AB00"
YEAR = "2025-2026"


def _header(path: Path) -> list[str]:
    return next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _shape(value: str) -> str:
    return re.sub(r"\d", "9", value)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_every_file_has_the_sample_sets_columns(version):
    for name in FILES[version]:
        sample = SAMPLES[version] / f"{name}.csv"
        if not sample.exists():  # the 1.1 set has no courses.csv; 1.1 and 1.2 courses have the same columns
            sample = SAMPLES["1.2"] / f"{name}.csv"
        assert [*COMMON, *HEADERS[version][name]] == _header(sample), name


def _roster() -> list:
    """A school, its year folder, a klas and a course; two pupils (a voorvoegsel, diacritics, a comma and a quote in
    a name), a teacher who is the klas's mentor and teaches the course, a guardian of one pupil."""
    school = change(Action.CREATE, ObjectKind.GROUP, f"school:{BRIN}", {
        "type": "school", "name": "Het Baken College", "code": BRIN, "parent": None, "school": BRIN,
        "school_year": None})
    year = change(Action.CREATE, ObjectKind.GROUP, f"year:{BRIN}:{YEAR}", {
        "type": "folder", "name": YEAR, "code": None, "parent": f"school:{BRIN}", "school": BRIN,
        "school_year": YEAR})
    klas = change(Action.CREATE, ObjectKind.GROUP, f"las:{BRIN}:{YEAR}:1A", {
        "type": "klas", "name": "1A", "code": "1A", "parent": f"year:{BRIN}:{YEAR}", "school": BRIN,
        "school_year": YEAR, "leerjaar": 1})
    course = change(Action.CREATE, ObjectKind.GROUP, f"las:{BRIN}:{YEAR}:1A.ne", {
        "type": "course", "name": "Nederlands 1A.ne", "code": "1A.ne 2526", "parent": f"year:{BRIN}:{YEAR}",
        "school": BRIN, "school_year": YEAR, "subject": "ne", "leerjaar": 1})

    def person(key, role, given, prefix, family, username, email=None, **extra):
        return change(Action.CREATE, ObjectKind.PERSON, key, {"role": role, "given": given, "prefix": prefix,
                      "family": family, "username": username, "email": email, **extra}, school=BRIN)

    persons = [
        person("las:100001", "student", "Zoë", "van der", "Berg", "100001", "100001@leerling.example.nl"),
        person("las:100002", "student", 'Anna "Ans"', "", "Jansen, de", "100002"),
        person("las:BER", "staff", "Jan", "", "Bergsma", "ber", "ber@example.nl"),
        person("las:g1", "guardian", "Fatima", "", "El Amrani", "felamrani", children=("las:100001",)),
    ]

    def member(person_key, group, role, home=False):
        return change(Action.CREATE, ObjectKind.MEMBERSHIP, membership_key(person_key, group, role),
                      {"person": person_key, "group": group, "role": role, "home": home})

    school_key = f"school:{BRIN}"
    memberships = [member("las:100001", school_key, "student", True), member("las:100002", school_key, "student", True),
                   member("las:BER", school_key, "teacher", True), member("las:g1", school_key, "guardian", True),
                   member("las:100001", klas.key, "student"), member("las:100002", klas.key, "student"),
                   member("las:BER", klas.key, "mentor"), member("las:100001", course.key, "student"),
                   member("las:BER", course.key, "teacher")]
    return [school, year, klas, course, *persons, *memberships]


def _next_day() -> list:
    """A pupil leaves (suspended, memberships removed); the other is renamed; the course is renamed."""
    leaver = "las:100002"
    gone = [change(Action.DELETE, ObjectKind.MEMBERSHIP, membership_key(leaver, g, "student"),
                   before={"person": leaver, "group": g, "role": "student", "home": g.startswith("school:")})
            for g in (f"las:{BRIN}:{YEAR}:1A", f"school:{BRIN}")]
    return [
        change(Action.UPDATE, ObjectKind.GROUP, f"las:{BRIN}:{YEAR}:1A.ne", {"name": "Nederlands 1A"},
               fields=("name",)),
        change(Action.UPDATE, ObjectKind.PERSON, "las:100001", {"family": "Bergen"}, fields=("family",)),
        *gone,
        change(Action.SUSPEND, ObjectKind.PERSON, leaver, before={"role": "student"}),
    ]


def _publish(folder: Path, version: str, mode: str) -> list[Path]:
    target = make_target(folder, version=version, mode=mode)
    for batch in (_roster(), _next_day()):
        results = target.apply(batch)
        assert all(r.ok for r in results), results
        target.publish()
    return zips(folder)


def _entries(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("mode", ["bulk", "delta"])
def test_a_fixed_roster_gives_the_golden_files(tmp_path, version, mode):
    published = _publish(tmp_path / "out", version, mode)
    assert len(published) == (1 if mode == "bulk" else 2)
    for index, path in enumerate(published if mode == "delta" else published[-1:]):
        folder = GOLDEN / f"v{version.replace('.', 'p')}-{mode}" / (f"{index + 1}" if mode == "delta" else "last")
        entries = _entries(path)
        if os.environ.get("KOPPEL_UPDATE_GOLDEN"):
            folder.mkdir(parents=True, exist_ok=True)
            for name, text in entries.items():
                (folder / name).write_bytes(text.encode("utf-8"))
        expected = {p.name: p.read_bytes().decode("utf-8") for p in folder.glob("*.csv")}
        assert entries == expected, f"{path.name} differs from {folder}"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_the_manifest_lists_what_the_sample_sets_list(tmp_path, version):
    published = _publish(tmp_path / "out", version, "delta")
    sample = {row["propertyName"] for row in _rows(SAMPLES[version] / "manifest.csv")}
    for path, mode in zip(published, ("bulk", "delta"), strict=True):
        with zipfile.ZipFile(path) as archive:
            assert archive.namelist()[0] == "manifest.csv"
            rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
            manifest = {row["propertyName"]: row["value"] for row in rows}
            assert set(manifest) == sample
            assert manifest["oneroster.version"] == version and manifest["manifest.version"] == "1.0"
            written = {f"file.{name}" for name in FILES[version]}
            assert {k for k, v in manifest.items() if k.startswith("file.") and v != "absent"} == written
            assert all(manifest[k] == mode for k in written)
            assert {name.removesuffix(".csv") for name in archive.namelist()} == {"manifest", *FILES[version]}


def test_values_have_the_sample_sets_formats(tmp_path):
    published = _publish(tmp_path / "out", "1.2", "delta")
    with zipfile.ZipFile(published[0]) as bulk, zipfile.ZipFile(published[1]) as delta:
        def rows(archive, name):
            return list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode())))

        bulk_sample, delta_sample = SAMPLES["1.1"], SAMPLES["1.2"]
        # Bulk: status and dateLastModified empty, as in the 1.1 bulk set.
        assert {(r["status"], r["dateLastModified"]) for r in rows(bulk, "users")} == {
            (r["status"], r["dateLastModified"]) for r in _rows(bulk_sample / "users.csv")} == {("", "")}
        # Delta: dateLastModified with milliseconds and Z, status from the spec's vocabulary.
        sample_modified = _shape(_rows(delta_sample / "users.csv")[0]["dateLastModified"])
        changed = [r for name in FILES["1.2"] for r in rows(delta, name)]
        assert changed and {_shape(r["dateLastModified"]) for r in changed} == {sample_modified}
        assert {r["status"] for r in changed} == {"active", "tobedeleted"}
        # Booleans as TRUE/FALSE, dates as YYYY-MM-DD, vocabulary terms as the samples spell them.
        assert {r["enabledUser"] for r in rows(bulk, "users")} == {_rows(bulk_sample / "users.csv")[0]["enabledUser"]}
        assert {r["enabledUser"] for r in rows(delta, "users") if r["sourcedId"] == "las:100002"} == {"FALSE"}
        session = rows(bulk, "academicSessions")[0]
        sample_session = _rows(delta_sample / "academicSessions.csv")[0]
        assert (_shape(session["startDate"]), _shape(session["endDate"]), _shape(session["schoolYear"])) == (
            _shape(sample_session["startDate"]), _shape(sample_session["endDate"]), _shape(sample_session["schoolYear"]))
        assert (session["startDate"], session["endDate"], session["schoolYear"]) == ("2025-08-01", "2026-07-31", "2026")
        assert {r["classType"] for r in rows(bulk, "classes")} == {"homeroom", "scheduled"}
        assert _rows(delta_sample / "classes.csv")[0]["classType"] == "scheduled"
        assert {r["type"] for r in rows(bulk, "orgs")} == {_rows(delta_sample / "orgs.csv")[0]["type"]} == {"school"}
        assert {r["roleType"] for r in rows(bulk, "roles")} == {"primary"}
        assert _rows(delta_sample / "roles.csv")[0]["roleType"] == "primary"
        # The delta's tobedeleted rows are the leaver's enrollment and role.
        gone = {(name, r["sourcedId"]) for name in ("enrollments", "roles") for r in rows(delta, name)
                if r["status"] == "tobedeleted"}
        assert gone == {("enrollments", f"las:100002|las:{BRIN}:{YEAR}:1A|student"),
                        ("roles", f"las:100002|school:{BRIN}|student")}
