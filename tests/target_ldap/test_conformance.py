"""The LDAP target passes koppel's target conformance suite, against a real slapd."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from koppel.model.desired import ObjectKind
from koppel.targets.ldap import LdapTarget
from koppel.testing.conformance import TargetConformance


class TestLdapConformance(TargetConformance):
    @pytest.fixture
    def target(self, make_target: Callable[..., LdapTarget]) -> Iterator[LdapTarget]:
        yield make_target()

    def snapshot(self, target: LdapTarget) -> dict[str, dict[str, Any]]:
        """Active objects by koppel key: persons outside the leavers OU, groups, and memberships."""
        snapshot = target.read()
        assert snapshot.complete, snapshot.notes
        active: dict[str, dict[str, Any]] = {}
        for obj in snapshot.objects:
            if obj.kind is ObjectKind.PERSON and obj.attrs.get("locked"):
                continue
            if obj.key is not None:
                active[obj.key] = dict(obj.attrs)
        return active
