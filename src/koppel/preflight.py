"""Can koppel work with a target? ``koppel check``, and the short check before a run's first write.

The target checks itself (reach, TLS, credentials, site root: ``CheckableTarget.check``); the state adds
what only it knows — whether koppel manages anything there yet. A site another koppeling filled stops the
first write until ``koppel takeover`` recorded what is whose, or everyone would get a second account.
"""

from __future__ import annotations

from koppel.errors import PreflightFailed
from koppel.state.store import StateStore
from koppel.targets.base import Check, CheckableTarget, CheckStatus, Target

__all__ = ["TargetChecks"]


class TargetChecks:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    def full(self, tenant: str, target: str, kind: str, target_obj: Target) -> list[Check]:
        """``koppel check``: read-only; writes nothing anywhere."""
        checks = [Check("configuration", CheckStatus.OK, f"target {target} ({kind}) of tenant {tenant}")]
        if not isinstance(target_obj, CheckableTarget):
            return checks + [Check("target", CheckStatus.SKIPPED, f"{kind} targets cannot be checked without writing")]
        checks += target_obj.check(full=True)
        return checks + self.state_checks(tenant, target, checks)

    def state_checks(self, tenant: str, target: str, checks: list[Check]) -> list[Check]:
        """What the state says beside what the platform holds: a site filled by another koppeling needs a
        takeover before koppel's first write, or everyone gets a second account."""
        managed = sum(n for by_status in self.store.counts(tenant, target).values() for n in by_status.values())
        if managed:
            return [Check("state", CheckStatus.OK, f"koppel manages {managed:,} object(s) in this target")]
        held = next((c.data for c in checks if "accounts" in c.data), None)
        if held is None or not held.get("accounts"):
            return [Check("state", CheckStatus.OK, "koppel manages nothing here yet; the first sync loads everything")]
        if held.get("with_sync_id"):
            return [Check("state", CheckStatus.FAILED,
                          f"the target already holds {held['accounts']:,} account(s), with sync ids another koppeling "
                          "or an import gave them, and koppel manages nothing here yet: a first sync would make a "
                          "second account for each of them",
                          "run `koppel takeover` first: it adopts what matches the LAS (see docs/takeover.md)")]
        return [Check("state", CheckStatus.WARNING,
                      f"the target holds {held['accounts']:,} account(s) made by hand; a first sync leaves them be",
                      "`koppel takeover` or `koppel reconcile` matches them to LAS persons, for review")]

    def before_first_write(self, tenant: str, target: str, target_obj: Target) -> None:
        """Before a run's first write: the short check (reach, credentials, site root); before the very first
        write to a target also what it already holds. Stops the run, with what to fix, on any failure."""
        if not isinstance(target_obj, CheckableTarget):
            return
        first = not self.store.counts(tenant, target)
        checks = target_obj.check(full=first)
        if first:
            checks += self.state_checks(tenant, target, checks)
        failed = [c for c in checks if c.status is CheckStatus.FAILED]
        if failed:
            raise PreflightFailed("the check before the first write failed; nothing was sent:\n" + "\n".join(
                f"  - {c.name}: {c.message}" + (f"\n    fix: {c.fix}" if c.fix else "") for c in failed))
