"""The target conformance suite: what every target must do, whatever platform it talks to.

Use it by subclassing in a pytest module and providing two things::

    from koppel.testing.conformance import TargetConformance

    class TestMyTarget(TargetConformance):
        @pytest.fixture
        def target(self, tmp_path):
            yield MyTarget(...)

        def snapshot(self, target) -> dict[str, dict]:
            ...  # active objects in the platform: sync key -> neutral attributes

The suite checks: re-applying the same changes is harmless (idempotent); create → update → delete
round-trips; a child sent before its parent is a per-object data error, not an exception, and the
same change succeeds once the parent exists; every result is classified (one per change, in order,
with a known outcome); deleting what is not there counts as done; the target's declared lifecycle
actions work as the plan expects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind, fingerprint
from koppel.model.keys import membership_key
from koppel.targets.base import Target

__all__ = ["TargetConformance", "change"]

_PHASE = {ObjectKind.GROUP: 11, ObjectKind.PERSON: 30, ObjectKind.MEMBERSHIP: 40}


def change(action: Action, kind: ObjectKind, key: str, after: Mapping[str, Any] | None = None,
           before: Mapping[str, Any] | None = None, **extra: Any) -> Change:
    """A plan change for tests, with the reason and phase filled in."""
    return Change(action, kind, key, extra.pop("reason", "conformance test"), extra.pop("phase", _PHASE[kind]),
                  school=extra.pop("school", "99XX00"), label=extra.pop("label", key), before=before, after=after,
                  fingerprint=fingerprint(after) if after is not None else None, **extra)


def school(key: str = "conf-school", name: str = "Conformance College") -> Change:
    return change(Action.CREATE, ObjectKind.GROUP, key, {"type": "school", "name": name, "code": "99XX00",
                                                          "parent": None, "school": "99XX00", "school_year": None})


def course(key: str, parent: str, name: str = "Nederlands 1A") -> Change:
    return change(Action.CREATE, ObjectKind.GROUP, key, {"type": "course", "name": name, "code": key[-12:],
                                                          "parent": parent, "school": "99XX00",
                                                          "school_year": "2025-2026", "subject": "ne", "leerjaar": 1})


def person(key: str, given: str = "Zoë", family: str = "Berg", prefix: str = "van der", role: str = "student") -> Change:
    return change(Action.CREATE, ObjectKind.PERSON, key, {"role": role, "given": given, "prefix": prefix,
                                                           "family": family, "username": key.replace(":", ""),
                                                           "email": f"{key.replace(':', '')}@example.org"})


def membership(person_key: str, group_key: str, role: str = "student", home: bool = False) -> Change:
    key = membership_key(person_key, group_key, role)
    return change(Action.CREATE, ObjectKind.MEMBERSHIP, key, {"person": person_key, "group": group_key, "role": role,
                                                               "home": home})


class TargetConformance:
    """Base class of the suite (not collected by itself: its name does not start with Test)."""

    def snapshot(self, target: Target) -> dict[str, dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError("a conformance subclass provides snapshot()")

    # -- helpers ---------------------------------------------------------------------------

    def send(self, target: Target, changes: Sequence[Change]) -> list[ItemResult]:
        """Send changes as the applier would: one kind and action per batch, within max_batch."""
        results: list[ItemResult] = []
        size = target.capabilities.max_batch
        i = 0
        while i < len(changes):
            head = changes[i]
            j = i
            while j < len(changes) and j - i < size and (changes[j].kind, changes[j].action) == (head.kind, head.action):
                j += 1
            batch = list(changes[i:j])
            got = list(target.apply(batch))
            assert len(got) == len(batch), "a target answers one result per change"
            assert [r.key for r in got] == [c.key for c in batch], "results come back in request order"
            results += got
            i = j
        return results

    def assert_all_ok(self, results: Sequence[ItemResult]) -> None:
        bad = [r for r in results if not r.ok]
        assert not bad, f"expected every change to succeed, got {bad}"

    def base(self) -> list[Change]:
        return [school(), course("conf-course-1", "conf-school"), person("conf:p1"), person("conf:t1", role="staff"),
                membership("conf:p1", "conf-course-1"), membership("conf:t1", "conf-course-1", "teacher"),
                membership("conf:p1", "conf-school", home=True)]

    # -- the suite -------------------------------------------------------------------------

    def test_results_are_classified(self, target: Target) -> None:
        results = self.send(target, self.base())
        assert all(isinstance(r.outcome, ItemOutcome) for r in results)
        self.assert_all_ok(results)

    def test_idempotent_reapply(self, target: Target) -> None:
        self.assert_all_ok(self.send(target, self.base()))
        first = self.snapshot(target)
        self.assert_all_ok(self.send(target, self.base()))
        assert self.snapshot(target) == first, "applying the same changes twice must change nothing"

    def test_create_update_delete_round_trip(self, target: Target) -> None:
        self.assert_all_ok(self.send(target, self.base()))
        created = self.snapshot(target)
        assert "conf:p1" in created
        before = dict(created["conf:p1"])
        after = {"role": "student", "given": "Zoe", "prefix": "van der", "family": "Bergen",
                 "username": "confp1", "email": "zoe.bergen@example.org"}
        update = change(Action.UPDATE, ObjectKind.PERSON, "conf:p1", after, before=before,
                        fields=("email", "family", "given"))
        self.assert_all_ok(self.send(target, [update]))
        updated = self.snapshot(target)["conf:p1"]
        for name in ("given", "family", "email"):
            assert updated.get(name) == after[name], f"{name} not updated"
        removals = [
            change(Action.DELETE, ObjectKind.MEMBERSHIP, "conf:p1|conf-course-1|student",
                   before={"person": "conf:p1", "group": "conf-course-1", "role": "student"}),
            change(Action.DELETE, ObjectKind.MEMBERSHIP, "conf:p1|conf-school|student",
                   before={"person": "conf:p1", "group": "conf-school", "role": "student"}),
            change(Action.DELETE, ObjectKind.PERSON, "conf:p1", before=after),
        ]
        self.assert_all_ok(self.send(target, removals))
        remaining = self.snapshot(target)
        assert "conf:p1" not in remaining
        assert "conf:p1|conf-course-1|student" not in remaining
        assert "conf:t1|conf-course-1|teacher" in remaining

    def test_delete_of_unknown_object_counts_as_done(self, target: Target) -> None:
        results = self.send(target, [
            change(Action.DELETE, ObjectKind.MEMBERSHIP, "conf:nobody|conf-nothing|student",
                   before={"person": "conf:nobody", "group": "conf-nothing", "role": "student"}),
            change(Action.DELETE, ObjectKind.PERSON, "conf:nobody", before={"role": "student"}),
        ])
        self.assert_all_ok(results)

    def test_parents_before_children(self, target: Target) -> None:
        orphan = course("conf-orphan", "conf-missing-parent")
        results = self.send(target, [orphan])
        assert results[0].outcome is ItemOutcome.FAILED, "a child before its parent is a per-object data error"
        assert results[0].message, "the failure says why"
        stray = membership("conf:ghost", "conf-missing-parent")
        results = self.send(target, [stray])
        assert results[0].outcome is ItemOutcome.FAILED
        # In the right order the same objects go through.
        self.assert_all_ok(self.send(target, [school(), course("conf-late", "conf-school"), person("conf:ghost"),
                                              membership("conf:ghost", "conf-late")]))

    def test_suspend_and_restore_keep_the_account(self, target: Target) -> None:
        caps = target.capabilities
        if not (caps.supports(ObjectKind.PERSON, Action.SUSPEND) and caps.supports(ObjectKind.PERSON, Action.RESTORE)):
            pytest.skip("this target declares no person suspend/restore")
        self.assert_all_ok(self.send(target, [school(), person("conf:leaver")]))
        before = self.snapshot(target)["conf:leaver"]
        self.assert_all_ok(self.send(target, [change(Action.SUSPEND, ObjectKind.PERSON, "conf:leaver", before=before)]))
        assert "conf:leaver" not in self.snapshot(target), "a suspended person is not active"
        restore = change(Action.RESTORE, ObjectKind.PERSON, "conf:leaver", dict(before), before=before)
        self.assert_all_ok(self.send(target, [restore]))
        assert self.snapshot(target).get("conf:leaver", {}).get("username") == before.get("username")
