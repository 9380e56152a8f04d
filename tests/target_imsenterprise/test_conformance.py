"""The IMS Enterprise target passes koppel's target conformance suite, for Moodle and for itslearning.

A file target stages what ``apply`` gets; the suite's snapshot publishes it (as the applier does after the last
phase) and reads back what koppel published, checking the file on disk holds the same objects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from koppel.model.desired import ObjectKind
from koppel.targets.imsenterprise import ImsEnterpriseTarget
from koppel.targets.imsenterprise.reader import parse_file
from koppel.testing.conformance import TargetConformance

from .support import make_target


class _Suite(TargetConformance):
    profile = "moodle"

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[ImsEnterpriseTarget]:
        target = make_target(tmp_path / "out", profile=self.profile, course_types=["course"])
        yield target
        target.close()

    def snapshot(self, target: ImsEnterpriseTarget) -> dict[str, dict[str, Any]]:
        if target.roster.staged:
            target.publish()
        active: dict[str, dict[str, Any]] = {}
        for obj in target.read().objects:
            if obj.kind is ObjectKind.MEMBERSHIP:
                a = obj.attrs
                active[f"{a['person']}|{a['group']}|{a['role']}"] = dict(a)
            elif obj.key is not None:
                active[obj.key] = dict(obj.attrs)
        path = target.path_for(target.roster.publication)
        if path.exists():  # the file holds every active person the mirror holds
            persons = {p.id for p in parse_file(path.read_bytes()).persons if p.recstatus in (None, 1)}
            assert persons == {k for k, v in active.items() if "username" in v}
        return active


class TestMoodleConformance(_Suite):
    profile = "moodle"


class TestItslearningConformance(_Suite):
    profile = "itslearning"
