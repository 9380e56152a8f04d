"""Per-group membership digests (issue 13): a plan skips the groups whose members equal the state's, and loads and
compares member by member only the others — finding exactly what the full comparison finds.

Each test compares the plan made with the digests against the plan of ``full=True`` (every membership loaded
and compared, as before), on a generated export, the FakeTarget and a SQLite state (see
``test_unchanged_shortcut``).
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from koppel.generator.mutate import add_teacher, drop_subject
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.testing.fake import FakeTarget
from tests.plan.test_unchanged_shortcut import CONFIG, YEAR, Bench

GUARDED = CONFIG.replace("max_count = 100000\nmax_percent = 100.0", "max_count = {max_count}\nmax_percent = 10.0\n"
                                                                    "min_count = 1")


class GuardedBench(Bench):
    def configure(self, *, school_year: str = str(YEAR), grace: int = 30, max_count: int = 100000) -> None:
        (self.root / "koppel.toml").write_text(GUARDED.format(school_year=school_year, grace=grace,
                                                              max_count=max_count), encoding="utf-8")


@pytest.fixture
def bench(tmp_path):
    b = GuardedBench(tmp_path, students=150)
    b.app().sync("t", None)  # the first load: everything created
    assert not b.app().sync("t", None, full=True).plan.changes  # loads every membership, writes the digests
    yield b
    b.close()


def _digests(bench: Bench) -> dict[str, str] | None:
    view, _ = bench.app().store.load_for_plan("t", "fake", by_group=True)
    return None if view.membership_digests is None else dict(view.membership_digests)


def _both(bench: Bench):
    """(the plan with digests, the plan comparing every membership), as previews."""
    app = bench.app()
    return app.plan("t", None).plan, app.plan("t", None, full=True).plan


def _big_group(bestuur):
    return max(bestuur.lesgroepen, key=lambda g: len(g.pupils))


def test_a_sync_writes_digests_that_describe_the_state(bench):
    digests = _digests(bench)
    assert digests is not None and len(digests) > 10
    serial = bench.sql("SELECT serial FROM targets_state")[0][0]
    assert bench.sql("SELECT serial, total FROM membership_cache")[0] == (
        serial, bench.sql("SELECT count(*) FROM objects WHERE kind = 'membership' AND status = 'active'")[0][0])
    with_digests, full = _both(bench)
    assert not with_digests.changes and not full.changes


def test_a_changed_membership_in_an_otherwise_unchanged_big_group_is_found(bench):
    group = _big_group(bench.bestuur)
    assert len(group.pupils) >= 10
    leaving = group.pupils[len(group.pupils) // 2]
    changed = drop_subject(bench.bestuur, leaving, group.name)
    changed = add_teacher(changed, group.brin6, "ZQX", "Zora", "", "Quaxel", group.name)  # a new docent joins it
    bench.write_export(changed)
    assert _digests(bench) is not None  # the state did not move: the digests still hold
    with_digests, full = _both(bench)
    assert with_digests.id == full.id and with_digests.changes == full.changes
    found = {(c.action, c.kind) for c in with_digests.changes}
    assert (Action.DELETE, ObjectKind.MEMBERSHIP) in found and (Action.CREATE, ObjectKind.MEMBERSHIP) in found
    removed = [c for c in with_digests.changes if c.action is Action.DELETE]
    assert len(removed) == 1 and removed[0].key.split("|")[1].endswith(group.name)


def test_a_membership_row_deleted_by_hand_falls_back_to_the_full_comparison(bench):
    key = bench.sql("SELECT key FROM objects WHERE kind = 'membership' AND status = 'active' ORDER BY key LIMIT 1")[0][0]
    bench.sql("DELETE FROM objects WHERE key = ?", key)
    assert _digests(bench) is None  # the number of active memberships is not the one the digests were made at
    with_digests, full = _both(bench)
    assert [c.key for c in with_digests.changes] == [key] == [c.key for c in full.changes]
    assert with_digests.changes[0].action is Action.CREATE


def test_a_digest_that_does_not_match_compares_that_group_member_by_member(bench):
    """A digest changed by hand (or any mismatch) never hides a change: the group is compared member by member,
    from its stored members — here nothing differs, so nothing is planned."""
    group = bench.sql("SELECT group_key FROM membership_groups ORDER BY group_key LIMIT 1")[0][0]
    bench.sql("UPDATE membership_groups SET digest = 'not a digest' WHERE group_key = ?", group)
    with_digests, full = _both(bench)
    assert not with_digests.changes and not full.changes


def test_an_apply_carries_the_digests_to_the_serial_it_left(bench):
    """An apply that recorded every change of its plan moves the digests of the groups it changed along with the
    serial: the next plan uses them, and they are what a full load writes."""
    group = _big_group(bench.bestuur)
    bench.write_export(drop_subject(bench.bestuur, group.pupils[0], group.name))
    applied = bench.app().sync("t", None)
    assert [c.action for c in applied.plan.changes] == [Action.DELETE]
    carried = _digests(bench)
    assert carried is not None  # valid at the serial the apply left
    serial, total, totals = bench.sql("SELECT serial, total, totals FROM membership_cache")[0]
    assert serial == bench.sql("SELECT serial FROM targets_state")[0][0] == applied.applied.serial
    assert totals is None  # the number per school is counted from the state when a guard asks
    view, _ = bench.app().store.load_for_plan("t", "fake", by_group=True)
    counted = dict(view.membership_totals)
    with_digests, full = _both(bench)
    assert not with_digests.changes and with_digests.id == full.id
    again = bench.app().sync("t", None, full=True)  # loads every membership and writes the digests afresh
    assert not again.plan.changes
    assert _digests(bench) == carried
    fresh_total, fresh_totals = bench.sql("SELECT total, totals FROM membership_cache")[0]
    assert (fresh_total, dict(json.loads(fresh_totals))) == (total, counted)


def test_a_partial_apply_leaves_the_digests_behind(bench):
    """An apply of which the platform refused a part: the digests stay at the serial before, so the next plan
    compares every membership — and finds what the refused part left."""
    changed = bench.bestuur
    for group in sorted(bench.bestuur.lesgroepen, key=lambda g: -len(g.pupils))[:8]:
        changed = drop_subject(changed, group.pupils[0], group.name)
    bench.write_export(changed)
    partial = bench.app().sync("t", None, target=FakeTarget("fake", permanent_rate=0.5, seed=1))
    assert partial.applied is not None and partial.applied.status == "partial"
    assert _digests(bench) is None
    with_digests, full = _both(bench)
    assert with_digests.changes == full.changes and with_digests.changes


def test_guards_see_the_same_counts_with_digests(bench):
    """Removing the pupils of a few groups: the removal guard holds both plans for the same reasons (it counts
    memberships per school from the state, not from what the plan loaded)."""
    groups = sorted(bench.bestuur.lesgroepen, key=lambda g: -len(g.pupils))[:3]
    names = {g.name for g in groups}
    emptied = dataclasses.replace(bench.bestuur, lesgroepen=tuple(
        dataclasses.replace(g, pupils=()) if g.name in names else g for g in bench.bestuur.lesgroepen))
    bench.write_export(emptied)
    bench.configure(max_count=5)
    with_digests, full = _both(bench)
    assert with_digests.held and [h.to_json() for h in with_digests.holds] == [h.to_json() for h in full.holds]
    assert with_digests.changes == full.changes
    assert sum(c.kind is ObjectKind.MEMBERSHIP and c.action is Action.DELETE for c in full.changes) >= 10
