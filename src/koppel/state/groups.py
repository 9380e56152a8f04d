"""Per-group membership digests (issue 13): what lets a plan skip the groups whose members did not change.

A bestuur's state holds about a million active memberships. Loading them all (as ``key → fingerprint``) and
comparing them one by one is most of a plan that changes one pupil. This repository keeps, per group, the
digest of its active memberships and the memberships themselves (compressed), taken at a known lineage, serial
and number of active memberships (table ``membership_cache``). While those still hold — nothing was recorded
since, no row was added or removed by hand, and the state holds no drift and nothing unrecorded — a plan
compares the digests with those of the desired groups and loads the members of the groups that differ only.

Anything else means the cache is not used: the plan loads every membership (as before) and a run that records
(``sync``, ``apply``) writes the cache again from what it loaded.

An apply that recorded every change of a plan made at the cache's serial carries the cache over to the serial it
left (:meth:`MembershipGroups.advance`): the groups its membership changes touched get their new members and
digests, in one transaction that checks the state's serial and its number of active memberships. So the run
after a change finds the digests valid too.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping

import orjson
from sqlalchemy import delete, func, insert, select

from koppel.model.keys import MEMBERSHIP_AWAY
from koppel.plan.state_view import group_digest, membership_group, membership_line
from koppel.state import schema as t
from koppel.state.db import Database, chunks

__all__ = ["MembershipGroups"]


class MembershipGroups:
    def __init__(self, db: Database):
        self.db = db

    def digests(self, state_id: int, lineage: str,
                serial: int) -> tuple[dict[str, str], dict[str | None, int] | None] | None:
        """Group key → digest of its active memberships, and the number of active memberships per school (for the
        guards; None when not kept: after :meth:`advance`), when the cache describes the state as it is; else
        None."""
        c, o = t.membership_cache.c, t.objects.c
        with self.db.reading() as conn:
            row = conn.execute(select(c.lineage, c.serial, c.total, c.totals).where(c.state_id == state_id)).first()
            if row is None or row.lineage != lineage or int(row.serial) != serial:
                return None
            if conn.execute(select(t.drift.c.key).where(t.drift.c.state_id == state_id).limit(1)).first() \
                    or conn.execute(select(t.unrecorded.c.key).where(t.unrecorded.c.state_id == state_id)
                                    .limit(1)).first():
                return None
            active = conn.execute(select(func.count()).select_from(t.objects).where(
                o.state_id == state_id, o.kind == "membership", o.status == "active")).scalar()
            if active != int(row.total):
                return None  # rows added or removed without a recorded change (by hand)
        digests = {str(key): str(digest) for key, digest in self.db.raw(
            "SELECT group_key, digest FROM membership_groups WHERE state_id = {p}", state_id)}
        if row.totals is None:
            return digests, None
        return digests, {school: int(n) for school, n in orjson.loads(row.totals)}

    def members(self, state_id: int, groups: Iterable[str]) -> dict[str, str]:
        """The active memberships (key → fingerprint) of these groups, from the cache."""
        g = t.membership_groups.c
        out: dict[str, str] = {}
        with self.db.reading() as conn:
            for chunk in chunks(sorted(groups), 900):
                rows = conn.execute(select(g.members).where(g.state_id == state_id, g.group_key.in_(chunk)))
                blob: bytes
                for blob in rows.scalars():
                    text = zlib.decompress(blob).decode()
                    for line in text.split("\n") if text else ():
                        key, _, fp = line.partition("\t")
                        out[key] = fp or MEMBERSHIP_AWAY
        return out

    def store(self, state_id: int, lineage: str, serial: int, memberships: Mapping[str, str],
              totals: Mapping[str | None, int]) -> bool:
        """Write the cache from every active membership of the state at this serial (replacing what was there).
        False, and nothing written, when a key cannot be split into its group."""
        groups: dict[str, list[str]] = {}
        get = groups.get
        for key, fp in memberships.items():
            group = membership_group(key)
            if group is None:
                self.forget(state_id)
                return False
            lines = get(group)
            if lines is None:
                groups[group] = lines = []
            lines.append(membership_line(key, fp))
        rows = [{"state_id": state_id, "group_key": group, "digest": group_digest(lines),
                 "members": zlib.compress("\n".join(lines).encode(), 1)} for group, lines in groups.items()]
        with self.db.transaction() as conn:
            conn.execute(delete(t.membership_cache).where(t.membership_cache.c.state_id == state_id))
            conn.execute(delete(t.membership_groups).where(t.membership_groups.c.state_id == state_id))
            for chunk in _batches(rows, 5000):
                conn.execute(insert(t.membership_groups), chunk)
            conn.execute(insert(t.membership_cache).values(state_id=state_id, lineage=lineage, serial=serial,
                                                           total=len(memberships),
                                                           totals=orjson.dumps(list(totals.items())).decode()))
        return True

    def advance(self, state_id: int, lineage: str, before: int, after: int,
                changes: Iterable[tuple[str, str | None]]) -> bool:
        """Carry the cache from serial ``before`` to ``after`` over the membership changes recorded in between —
        (key, fingerprint) of a membership now active, (key, None) of one no longer active — when it describes the
        state at ``before`` and the state is at ``after`` with as many active memberships as the changes leave.
        False, and nothing written, otherwise (the next plan loads every membership). The number per school is
        not carried: the guards count it from the state when a plan has removals to weigh."""
        touched: dict[str, list[tuple[str, str | None]]] = {}
        for key, fp in changes:
            group = membership_group(key)
            if group is None:
                return False
            touched.setdefault(group, []).append((key, fp))
        c, g, o = t.membership_cache.c, t.membership_groups.c, t.objects.c
        with self.db.transaction() as conn:
            row = conn.execute(select(c.lineage, c.serial, c.total).where(c.state_id == state_id)).first()
            serial = conn.execute(select(t.targets_state.c.serial).where(t.targets_state.c.id == state_id)).scalar()
            if row is None or row.lineage != lineage or int(row.serial) != before or serial != after:
                return False
            stored = {str(r.group_key): zlib.decompress(r.members).decode()
                      for chunk in chunks(sorted(touched), 900) for r in conn.execute(
                          select(g.group_key, g.members).where(g.state_id == state_id, g.group_key.in_(chunk)))}
            total = int(row.total)
            rows: list[dict[str, object]] = []
            for group, group_changes in touched.items():
                text = stored.get(group, "")
                members = dict(line.partition("\t")[::2] for line in text.split("\n")) if text else {}
                for key, fp in group_changes:
                    total -= key in members
                    if fp is None:
                        members.pop(key, None)
                    else:
                        members[key] = "" if fp == MEMBERSHIP_AWAY else fp
                        total += 1
                lines = [membership_line(key, fp or MEMBERSHIP_AWAY) for key, fp in members.items()]
                if lines:
                    rows.append({"state_id": state_id, "group_key": group, "digest": group_digest(lines),
                                 "members": zlib.compress("\n".join(lines).encode(), 1)})
            active = conn.execute(select(func.count()).select_from(t.objects).where(
                o.state_id == state_id, o.kind == "membership", o.status == "active")).scalar()
            if active != total:
                return False
            for chunk in chunks(sorted(touched), 900):
                conn.execute(delete(t.membership_groups).where(g.state_id == state_id, g.group_key.in_(chunk)))
            for batch in _batches(rows, 5000):
                conn.execute(insert(t.membership_groups), batch)
            conn.execute(t.membership_cache.update().where(c.state_id == state_id).values(
                serial=after, total=total, totals=None))
        return True

    def forget(self, state_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(delete(t.membership_cache).where(t.membership_cache.c.state_id == state_id))
            conn.execute(delete(t.membership_groups).where(t.membership_groups.c.state_id == state_id))


def _batches(rows: list[dict[str, object]], size: int) -> Iterable[list[dict[str, object]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]
