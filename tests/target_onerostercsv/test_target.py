"""The OneRoster CSV target's own behaviour: publishing whole or not at all, what it refuses and warns about,
settings, read-back, check, and the payload preview."""

from __future__ import annotations

import contextlib
import resource
import signal
import zipfile
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from koppel.errors import TransientTargetError
from koppel.model.change import Action, ItemOutcome
from koppel.model.desired import ObjectKind
from koppel.targets.base import CheckStatus
from koppel.targets.files import PublishedRoster
from koppel.targets.onerostercsv import KIND, OneRosterCsvSettings
from koppel.targets.onerostercsv.mapping import sourced_id
from koppel.testing.conformance import change, course, membership, person, school

from .support import make_target, published, zips


def _base() -> list:
    return [school(), course("conf-course-1", "conf-school"), person("conf:p1"), person("conf:t1", role="staff"),
            membership("conf:p1", "conf-course-1"), membership("conf:t1", "conf-course-1", "teacher"),
            membership("conf:p1", "conf-school", home=True)]


@contextlib.contextmanager
def _file_size_limit(limit: int) -> Iterator[None]:
    """Files may grow to ``limit`` bytes: a bigger write fails with EFBIG, as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_failed_write_leaves_the_previous_zip_and_the_mirror(tmp_path):
    target = make_target(tmp_path / "out")
    assert all(r.ok for r in target.apply(_base()))
    target.publish()
    zip_path = tmp_path / "out" / "oneroster.zip"
    before, mirror_before = zip_path.read_bytes(), target.mirror.read_bytes()
    many = [person(f"conf:p{n}", given=f"Leerling {n}") for n in range(2, 400)]
    assert all(r.ok for r in target.apply(many))
    with _file_size_limit(2048), pytest.raises(TransientTargetError, match="cannot write"):
        target.publish()
    assert zip_path.read_bytes() == before, "the platform still finds the previous zip, whole"
    assert target.mirror.read_bytes() == mirror_before and PublishedRoster.load(target.mirror).publication == 1
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name != ".koppel"] == ["oneroster.zip"], "no temp file"
    target.discard()  # what the applier does after a failed publish; the next run stages the changes again
    assert all(r.ok for r in target.apply(many))
    target.publish()
    back = published(target)
    assert {f"conf:p{n}" for n in range(1, 400)} <= set(back) and back["conf:p399"]["given"] == "Leerling 399"


def test_children_before_parents_and_nameless_persons_are_refused(tmp_path):
    target = make_target(tmp_path / "out")
    results = target.apply([person("conf:x", given=""), course("c", "nowhere"),
                            membership("conf:ghost", "conf-school")])
    assert [r.outcome for r in results] == [ItemOutcome.FAILED] * 3
    assert "givenName" in (results[0].message or "") and "nowhere" in (results[1].message or "")
    assert target.pending == 0, "refused changes are not staged"


def test_a_guardian_enrolled_in_a_class_is_a_warning_in_1_1(tmp_path):
    target = make_target(tmp_path / "out", version="1.1")
    results = target.apply([*_base(), person("conf:g", role="guardian"), membership("conf:g", "conf-course-1", "guardian")])
    assert results[-1].outcome is ItemOutcome.WARNING and "1.1 has no guardian" in (results[-1].message or "")
    target.publish()
    with zipfile.ZipFile(zips(tmp_path / "out")[0]) as archive:
        assert "conf:g|conf-course-1" not in archive.read("enrollments.csv").decode()


def test_a_key_oneroster_cannot_carry_is_replaced_by_a_stable_digest():
    assert sourced_id("las:12AB00:2025-2026:4hnat1") == "las:12AB00:2025-2026:4hnat1"
    hashed = sourced_id("las:12AB00:2025-2026:wi,na")
    assert hashed.startswith("h-") and len(hashed) == 34 and hashed == sourced_id("las:12AB00:2025-2026:wi,na")
    assert sourced_id("x" * 300).startswith("h-")


def test_a_run_that_changes_no_row_writes_no_zip(tmp_path):
    target = make_target(tmp_path / "out", mode="delta")
    year = change(Action.CREATE, ObjectKind.GROUP, "year:99XX00:2025-2026", {
        "type": "folder", "name": "2025-2026", "code": None, "parent": "conf-school", "school": "99XX00",
        "school_year": "2025-2026"})
    target.apply([*_base(), year])
    target.publish()
    renamed = change(Action.UPDATE, ObjectKind.GROUP, "year:99XX00:2025-2026", {"name": "Schooljaar 2025-2026"})
    assert target.apply([renamed])[0].ok
    assert "no zip written" in target.publish()
    assert len(zips(tmp_path / "out")) == 1 and PublishedRoster.load(target.mirror).publication == 2


def test_read_returns_what_was_published(tmp_path):
    target = make_target(tmp_path / "out")
    target.apply(_base())
    assert target.read().objects == (), "nothing published yet"
    target.publish()
    snapshot = target.read()
    by_key = {o.key: o for o in snapshot.objects}
    assert set(by_key) == {c.key for c in _base()}
    assert "_school" not in by_key["conf:p1"].attrs and by_key["conf:p1"].attrs["given"] == "Zoë"


def test_check_says_where_it_writes_and_what_was_published(tmp_path):
    target = make_target(tmp_path / "out")
    checks = {c.name: c for c in target.check()}
    assert checks["folder"].status is CheckStatus.OK and "will be made" in checks["folder"].message
    assert "nothing published yet" in checks["last publication"].message
    target.apply(_base())
    target.publish()
    checks = {c.name: c for c in target.check()}
    assert "publication #1" in checks["last publication"].message and checks["last publication"].data["person"] == 2
    (tmp_path / "out" / "oneroster.zip").unlink()
    assert {c.name: c for c in target.check()}["zip"].status is CheckStatus.WARNING
    (tmp_path / "blocker").write_text("a file, not a folder")
    blocked = make_target(tmp_path / "blocker" / "out")
    assert {c.name: c for c in blocked.check()}["folder"].status is CheckStatus.FAILED


def test_settings_refuse_what_cannot_work():
    with pytest.raises(ValidationError, match="new name"):
        OneRosterCsvSettings(folder="out", mode="delta", file_name="roster.zip")
    with pytest.raises(ValidationError, match="a file name, not a path"):
        OneRosterCsvSettings(folder="out", file_name="../roster.zip")
    with pytest.raises(ValidationError, match="unknown placeholder"):
        OneRosterCsvSettings(folder="out", file_name="roster-{brin}.zip")
    with pytest.raises(ValidationError):
        OneRosterCsvSettings(folder="out", version="1.0")
    assert OneRosterCsvSettings(folder="out", mode="delta").name_template == "oneroster-{sequence:06d}-{timestamp}.zip"


def test_the_preview_shows_the_rows_of_one_change():
    settings = {"folder": "out", "version": "1.2", "mode": "delta"}
    assert KIND.preview is not None
    payloads = KIND.preview(settings, [person("conf:p1")])
    assert [p.title for p in payloads] == ["users.csv (delta, or bulk in the first zip)"]
    header, row = payloads[0].body.splitlines()
    assert header.startswith("sourcedId,status,dateLastModified,enabledUser,username")
    assert row.startswith("conf:p1,active,<the publication's time>,TRUE,confp1,,Zoë,van der Berg,")
    roles = KIND.preview(settings, [membership("conf:p1", "school:99XX00", home=True)])
    assert roles[0].title.startswith("roles.csv") and ",primary,student," in roles[0].body
    gone = KIND.preview({"folder": "out"}, [change(Action.DELETE, ObjectKind.PERSON, "conf:p1", before={
        "role": "student", "given": "Zoë", "prefix": "", "family": "Berg", "username": "zb", "email": None})])
    assert gone[0].body == "conf:p1: left out of the next zip"


def _delta_rows(path) -> dict[str, list[tuple[str, str]]]:
    import csv
    import io

    with zipfile.ZipFile(path) as archive:
        return {name.removesuffix(".csv"): [(r["sourcedId"], r["status"]) for r in
                                            csv.DictReader(io.StringIO(archive.read(name).decode()))]
                for name in archive.namelist() if name != "manifest.csv"}


def test_omit_takes_suspended_users_and_archived_classes_out(tmp_path):
    target = make_target(tmp_path / "out", version="1.2", mode="delta", suspended_users="omit",
                         archived_classes="omit")
    target.apply(_base())
    target.publish()
    assert all(r.ok for r in target.apply([
        change(Action.SUSPEND, ObjectKind.PERSON, "conf:p1", before={"role": "student"}),
        change(Action.ARCHIVE, ObjectKind.GROUP, "conf-course-1", before={"type": "course"}),
    ]))
    target.publish()
    rows = _delta_rows(zips(tmp_path / "out")[-1])
    assert rows["users"] == [("conf:p1", "tobedeleted")]
    assert rows["roles"] == [("conf:p1|conf-school|student", "tobedeleted")]
    assert rows["classes"] == [("conf-course-1", "tobedeleted")]
    assert rows["courses"] == [("course:conf-course-1", "tobedeleted")]
    assert sorted(rows["enrollments"]) == [("conf:p1|conf-course-1|student", "tobedeleted"),
                                           ("conf:t1|conf-course-1|teacher", "tobedeleted")]
    assert rows["academicSessions"] == [("schoolyear:2025-2026", "tobedeleted")], "no class holds the year any more"
    assert all(r.ok for r in target.apply([change(Action.RESTORE, ObjectKind.PERSON, "conf:p1",
                                                  person("conf:p1").after)]))
    target.publish()
    rows = _delta_rows(zips(tmp_path / "out")[-1])
    assert rows["users"] == [("conf:p1", "active")] and rows["roles"] == [("conf:p1|conf-school|student", "active")]
