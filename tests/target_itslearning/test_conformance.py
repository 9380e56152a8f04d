"""The itslearning target passes koppel's target conformance suite, against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from koppel.model.desired import ObjectKind
from koppel.sandbox.itslearning import SandboxConfig, SandboxServer
from koppel.targets.itslearning import ItslearningTarget
from koppel.testing.conformance import TargetConformance

from .sandbox_support import make_site_root, target_for

# The groups the suite makes; IMS ES cannot list hierarchies, so read() is told which to read.
SUITE_GROUPS = ("conf-school", "conf-course-1", "conf-late", "conf-orphan")


class TestItslearningConformance(TargetConformance):
    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[ItslearningTarget]:
        with SandboxServer(
            SandboxConfig(db_path=tmp_path / "itslearning.db"), host="127.0.0.1", port=0
        ) as server:
            make_site_root(server)
            itslearning = target_for(server)
            yield itslearning
            itslearning.close()

    def snapshot(self, target: ItslearningTarget) -> dict[str, dict[str, Any]]:
        """Active objects by koppel key; memberships by the suite's ``person|group|role`` key."""
        snapshot = target.read(SUITE_GROUPS)
        assert snapshot.complete, snapshot.notes
        active: dict[str, dict[str, Any]] = {}
        for obj in snapshot.objects:
            if obj.kind is ObjectKind.MEMBERSHIP:
                attrs = obj.attrs
                active[f"{attrs['person']}|{attrs['group']}|{attrs['role']}"] = dict(attrs)
            elif obj.key is not None:
                active[obj.key] = dict(obj.attrs)
        return active
