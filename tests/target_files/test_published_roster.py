"""The file targets' shared parts: the published mirror and atomic writes, on real files."""

from __future__ import annotations

import os

import pytest

from koppel.errors import TargetConfigError
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.targets.files import PublishedRoster, atomic_write


def change(action: Action, key: str, **after) -> Change:
    return Change(action, ObjectKind.PERSON, key, "test", 1, after=after or None)


def test_staged_changes_are_published_only_on_commit(tmp_path):
    mirror = tmp_path / ".koppel" / "moodle.json"
    roster = PublishedRoster.load(mirror)
    roster.stage(change(Action.CREATE, "p1", name="Jan"))
    roster.stage(change(Action.CREATE, "p2", name="Piet"))
    assert [o.key for o in roster.objects()] == ["p1", "p2"]
    assert not mirror.exists()
    roster.commit()
    again = PublishedRoster.load(mirror)
    assert again.publication == 1 and [o.attrs["name"] for o in again.objects()] == ["Jan", "Piet"]
    assert oct(mirror.stat().st_mode & 0o777) == "0o600"


def test_lifecycle_actions_update_status_and_attributes(tmp_path):
    roster = PublishedRoster.load(tmp_path / "m.json")
    roster.stage(change(Action.CREATE, "p1", name="Jan", email="j@x"))
    roster.commit()
    s = roster.stage(change(Action.UPDATE, "p1", name="Jan B"))
    assert s.before is not None and s.before.attrs["name"] == "Jan"
    assert s.after is not None and s.after.attrs == {"name": "Jan B", "email": "j@x"}
    roster.stage(change(Action.SUSPEND, "p1"))
    assert roster.get(ObjectKind.PERSON, "p1").status == "suspended"
    roster.stage(change(Action.RESTORE, "p1"))
    assert roster.get(ObjectKind.PERSON, "p1").status == "active"
    roster.stage(change(Action.DELETE, "p1"))
    roster.stage(change(Action.DELETE, "gone"))  # deleting what is not there is done
    assert list(roster.objects()) == []
    roster.discard()
    assert [o.key for o in roster.objects()] == ["p1"], "discard returns to what was published"


def test_a_damaged_mirror_is_named(tmp_path):
    mirror = tmp_path / "m.json"
    mirror.write_text("{not json")
    with pytest.raises(TargetConfigError, match=r"m\.json.*damaged.*--full"):
        PublishedRoster.load(mirror)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "out.xml"
    atomic_write(path, lambda out: out.write(b"old"))

    def broken(out):
        out.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.xml"], "no temp file left behind"


def test_a_folder_that_cannot_be_made_is_a_configuration_fault(tmp_path):
    blocker = tmp_path / "output"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(TargetConfigError, match="cannot write in .*output"):
        atomic_write(blocker / "moodle" / "x.xml", lambda out: out.write(b"x"))


def test_the_published_view_streams_items_and_values_in_key_order(tmp_path):
    roster = PublishedRoster.load(tmp_path / "m.db")
    for key in ("p3", "p1", "p2"):
        roster.stage(change(Action.CREATE, key, name=key))
    roster.commit()
    view = PublishedRoster.load(tmp_path / "m.db").published
    assert [ident[1] for ident, _ in view.items()] == ["p1", "p2", "p3"]
    assert [o.attrs["name"] for o in view.values()] == ["p1", "p2", "p3"]
    assert len(view) == 3 and view[(ObjectKind.PERSON, "p2")].key == "p2" and (ObjectKind.PERSON, "x") not in view


def test_a_snapshot_merges_staged_changes_into_the_published_rows_in_order(tmp_path):
    roster = PublishedRoster.load(tmp_path / "m.db")
    for key in ("a", "c", "e"):
        roster.stage(change(Action.CREATE, key, name=key))
    roster.commit()
    roster.stage(change(Action.CREATE, "b", name="b"))
    roster.stage(change(Action.DELETE, "c"))
    roster.stage(change(Action.UPDATE, "e", name="E"))
    roster.stage(change(Action.CREATE, "f", name="f"))
    assert [(o.key, o.attrs["name"]) for o in roster.objects()] == [("a", "a"), ("b", "b"), ("e", "E"), ("f", "f")]
    assert [o.key for o in roster.published.values()] == ["a", "c", "e"], "published is what was published"
