"""A target that writes a group's members in one request gets a phase's memberships in group order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from koppel.model.change import Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.targets.base import Capabilities
from tests.apply.test_applier import apply, plan_for
from tests.plan.test_engine import bestuur


class GroupWriter:
    name = "fake"

    def __init__(self, by_group: bool):
        self.capabilities = Capabilities(max_batch=40, max_operations_in_flight=40, adaptive=False,
                                         memberships_by_group=by_group)
        self.batches: list[list[Change]] = []

    def apply(self, batch: Sequence[Change]) -> Sequence[ItemResult]:
        self.batches.append(list(batch))
        return [ItemResult(c.key, ItemOutcome.DONE) for c in batch]

    def close(self) -> None:
        pass


def groups_per_batch(target: GroupWriter) -> list[int]:
    return [len({(c.after or c.before or {})["group"] for c in b}) for b in target.batches
            if b[0].kind is ObjectKind.MEMBERSHIP]


@pytest.mark.parametrize("by_group", [False, True])
def test_memberships_go_in_group_order_when_the_target_asks(store, by_group):
    target = GroupWriter(by_group)
    objs = bestuur(pupils=60)
    result = apply(store, target, plan_for(store, objs))
    assert result.status == "succeeded" and result.outcomes["done"] == len(objs)
    per_batch = groups_per_batch(target)
    requests_by_group = sum(per_batch)  # what a target that writes a group's members at once sends
    if by_group:
        for batch in target.batches:
            if batch[0].kind is ObjectKind.MEMBERSHIP:
                keys = [((c.after or {})["group"], c.key) for c in batch]
                assert keys == sorted(keys)
        groups = len({(c.after or {})["group"] for b in target.batches for c in b if c.kind is ObjectKind.MEMBERSHIP})
        assert requests_by_group <= groups + len(per_batch), "each group spans at most its batches"
    else:
        assert requests_by_group > 2 * len(per_batch), "by person, a batch holds many groups"
