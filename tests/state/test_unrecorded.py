"""State and target must not drift apart (issue 10): when the platform answered a change but the state could
not record it — a full disk, a database that turned read-only — the run stops with a clear error, and the next
plan sends that change again, as the LAS has it then. Before, the next run trusted the state: a name sent to
the platform and not recorded stayed there when the LAS went back to the recorded value ("0 to update").

The state store fails for real here: a SQLite file on a small disk that is filled the moment the FakeTarget
applied a request (its public ``on_applied`` seam), or a PostgreSQL database turned read-only at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from koppel.errors import UnrecordedChanges
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.testing.fake import FakeTarget
from tests.state.school import (
    TARGET,
    TENANT,
    ReadOnlyPostgres,
    app,
    make_school,
    pupils,
    set_field,
    small_disk,
    write_pupils,
)


@dataclass
class Breakable:
    """A state store and a way to make its writes fail (and work again)."""

    url: str
    fail: Callable[[], None]
    repair: Callable[[], None]


@pytest.fixture(params=["sqlite-full-disk", "postgres-read-only"])
def breakable(request, tmp_path: Path) -> Iterator[Breakable]:
    if request.param == "sqlite-full-disk":
        with small_disk(tmp_path / "disk") as disk:
            yield Breakable(f"sqlite:///{disk.path / 'state.db'}", disk.fill, disk.free)
        return
    from tests.conftest import ADMIN_URL, _pg_admin

    _pg_admin().close()  # skips (or, in CI, fails) when PostgreSQL is not there
    database = ReadOnlyPostgres(ADMIN_URL)
    try:
        yield Breakable(database.url, database.read_only, database.writable)
    finally:
        database.drop()


class OneShot:
    """``on_applied`` that breaks the state store once, right after the platform applied a request (the first,
    or the first that ``when`` picks)."""

    def __init__(self, action: Callable[[], None], when: Callable[[list], bool]):
        self.action = action
        self.when = when
        self.fired = 0

    def __call__(self, batch, results) -> None:
        if not self.fired and self.when(batch):
            self.fired = 1
            self.action()


def synced_school(root: Path, url: str):
    make_school(root, state=url)
    koppel = app(root)
    fake = FakeTarget(TARGET)
    result = koppel.apply(koppel.plan(None, None, target=fake).plan, target=fake)
    assert result.status == "succeeded"
    return koppel, fake


def person_key(koppel, stamnr: str) -> str:
    (match,) = [m for m in koppel.store.find_persons(TENANT, TARGET, stamnr) if m["meta"].get("leerlingnummer") == stamnr]
    return match["key"]


def fails_to_record(koppel, fake: FakeTarget, breakable: Breakable,
                    when: Callable[[list], bool] = lambda batch: True) -> UnrecordedChanges:
    """Plan and apply; the state store breaks right after the platform applied the first request (that
    ``when`` picks)."""
    plan = koppel.plan(None, None, target=fake).plan
    assert plan.changes
    fake.on_applied = OneShot(breakable.fail, when)
    try:
        with pytest.raises(UnrecordedChanges) as info:
            koppel.apply(plan, target=fake)
    finally:
        fake.on_applied = None
        breakable.repair()
    koppel.store.close()
    return info.value


def reopened(root: Path):
    """The next run: a new process would take the failed run's lock over (its pid is gone); this test runs in
    the same process, so the lock the failed run could not remove is removed as `koppel unlock --force` would."""
    koppel = app(root)
    left = koppel.store.current_lock(TENANT, TARGET)
    if left is not None:
        koppel.store.remove_lock(TENANT, TARGET, left.holder)
    return koppel


def test_an_update_the_state_could_not_record_is_sent_again_when_the_las_went_back(tmp_path, breakable):
    root = tmp_path / "school"
    koppel, fake = synced_school(root, breakable.url)
    _, _, rows = pupils(root)
    stamnr = rows[0][0]
    key = person_key(koppel, stamnr)
    original = set_field(root, stamnr, "Roepnaam", "Xerxes")

    error = fails_to_record(koppel, fake, breakable)
    assert "answered 1 change(s) (1 confirmed)" in str(error) and "the next run sends it again" in str(error)
    assert fake.active(ObjectKind.PERSON)[key]["given"] == "Xerxes", "the platform took the change"

    set_field(root, stamnr, "Roepnaam", original)  # the LAS goes back to what the state recorded
    koppel = reopened(root)
    assert [(u["key"], u["action"]) for u in koppel.store.unrecorded(TENANT, TARGET)] == [(key, "update")]
    plan = koppel.plan(None, None, target=fake).plan
    assert [(c.action, c.key) for c in plan.changes] == [(Action.UPDATE, key)], "before the fix: 0 to update"
    change = plan.changes[0]
    assert "could not record the platform's answer" in change.reason and change.after["given"] == original
    assert koppel.apply(plan, target=fake).status == "succeeded"
    assert fake.active(ObjectKind.PERSON)[key]["given"] == original
    assert koppel.plan(None, None, target=fake).plan.changes == ()
    assert koppel.store.unrecorded(TENANT, TARGET) == []
    koppel.store.close()


def test_an_unrecorded_update_is_sent_again_when_the_las_kept_it(tmp_path, breakable):
    root = tmp_path / "school"
    koppel, fake = synced_school(root, breakable.url)
    stamnr = pupils(root)[2][0][0]
    key = person_key(koppel, stamnr)
    set_field(root, stamnr, "Achternaam", "Terpstra")
    fails_to_record(koppel, fake, breakable)

    koppel = reopened(root)
    plan = koppel.plan(None, None, target=fake).plan
    assert [(c.action, c.key) for c in plan.changes] == [(Action.UPDATE, key)]
    assert koppel.apply(plan, target=fake).status == "succeeded"
    assert koppel.store.object(TENANT, TARGET, key)["attrs"]["family"] == "Terpstra"
    assert koppel.plan(None, None, target=fake).plan.changes == ()
    koppel.store.close()


def test_an_unrecorded_create_of_a_pupil_who_left_meanwhile_is_suspended_not_forgotten(tmp_path, breakable):
    root = tmp_path / "school"
    koppel, fake = synced_school(root, breakable.url)
    path, header, rows = pupils(root)
    newcomer = [*rows[0]]
    newcomer[0] = newcomer[header.index("Id")] = "199999"
    newcomer[header.index("Login")] = "199999"
    newcomer[header.index("Email")] = "199999@example.org"
    newcomer[header.index("EckId")] = ""
    write_pupils(path, header, [*rows, newcomer])
    fails_to_record(koppel, fake, breakable)  # the persons' phase: the newcomer's account landed
    write_pupils(path, header, rows)  # the newcomer is gone from the LAS before the next run
    koppel = reopened(root)
    created = [k for k in fake.active(ObjectKind.PERSON) if koppel.store.object(TENANT, TARGET, k) is None]
    assert len(created) == 1, "on the platform, not in the state"
    (key,) = created
    plan = koppel.plan(None, None, target=fake).plan
    assert [(c.action, c.key) for c in plan.changes] == [(Action.SUSPEND, key)], \
        "the account the state never recorded is suspended, not left active on the platform"
    assert koppel.apply(plan, target=fake).status == "succeeded"
    assert fake.status_of(key) == "suspended"
    assert koppel.plan(None, None, target=fake).plan.changes == ()
    koppel.store.close()


def test_an_unrecorded_suspension_of_a_pupil_who_came_back_is_restored(tmp_path, breakable):
    root = tmp_path / "school"
    koppel, fake = synced_school(root, breakable.url)
    path, header, rows = pupils(root)
    leaver = rows[3]
    key = person_key(koppel, leaver[0])
    write_pupils(path, header, [r for r in rows if r is not leaver])
    fails_to_record(koppel, fake, breakable, when=lambda batch: batch[0].action is Action.SUSPEND)
    assert fake.status_of(key) == "suspended", "the platform suspended the account; the state does not know"

    write_pupils(path, header, rows)  # back in the LAS before the next run
    koppel = reopened(root)
    plan = koppel.plan(None, None, target=fake).plan
    restore = [c for c in plan.changes if c.key == key]
    assert [c.action for c in restore] == [Action.RESTORE] and "a suspension" in restore[0].reason
    assert koppel.apply(plan, target=fake).status == "succeeded"
    assert fake.status_of(key) == "active"
    assert koppel.plan(None, None, target=fake).plan.changes == ()
    koppel.store.close()
