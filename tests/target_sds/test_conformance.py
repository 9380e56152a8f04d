"""The shared target conformance suite for the SDS target: staging and publishing, then what was published."""

from __future__ import annotations

from typing import Any

import pytest

from koppel.targets.sds import SdsTarget
from koppel.testing.conformance import TargetConformance
from tests.target_sds.support import make_target, read_set


class TestSdsConformance(TargetConformance):
    @pytest.fixture
    def target(self, tmp_path):
        target = make_target(tmp_path / "out")
        yield target
        target.close()

    def snapshot(self, target: SdsTarget) -> dict[str, dict[str, Any]]:  # type: ignore[override]
        """Publish what was staged, then the active objects of what was published, checked against the files."""
        target.publish()
        published = {o.key: dict(o.attrs) for o in target._load().published.values() if o.status == "active"}
        tables = read_set(target.folder / "2025-2026")
        users = {row["sourcedId"]: row for row in tables["users.csv"]}
        for key, attrs in published.items():
            if key in users:
                assert users[key]["givenName"] == attrs["given"] and users[key]["familyName"].endswith(attrs["family"])
        enrolled = {(r["classSourcedId"], r["userSourcedId"]) for r in tables["enrollments.csv"]}
        for attrs in published.values():
            if attrs.get("group") == "conf-course-1" and attrs.get("person") in users:
                assert ("conf-course-1", attrs["person"]) in enrolled
        return published
