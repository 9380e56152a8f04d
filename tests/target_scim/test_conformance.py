"""The SCIM target passes koppel's target conformance suite, against a real SCIM server (scim2-server, a process)."""

from __future__ import annotations

from typing import Any

from koppel.model.desired import ObjectKind
from koppel.targets.scim import ScimTarget
from koppel.testing.conformance import TargetConformance


class TestScimConformance(TargetConformance):
    # ``target`` is tests/target_scim/conftest.py's: a fresh tenant of the running server per test.

    def snapshot(self, target: ScimTarget) -> dict[str, dict[str, Any]]:
        """Active objects by koppel key, as the target reads them back (paged GETs of /Users and /Groups)."""
        snapshot = target.read()
        assert snapshot.complete, snapshot.notes
        inactive = {o.key for o in snapshot.objects if o.kind is ObjectKind.PERSON and not o.attrs.get("active")}
        active: dict[str, dict[str, Any]] = {}
        for obj in snapshot.objects:
            if obj.key is None or obj.key in inactive:
                continue
            if obj.kind is ObjectKind.MEMBERSHIP and obj.attrs["person"] in inactive:
                continue
            active[obj.key] = dict(obj.attrs)
        return active
