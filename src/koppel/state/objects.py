"""Reading the objects koppel believes a target holds (what a plan starts from), and the drift
reconciliation saw: :class:`ObjectReads` and :class:`DriftRepository`.

Objects move only through :class:`~koppel.state.recording.Recorder` (DESIGN §6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select

from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.model.status import RunKind, RunStatus
from koppel.plan.state_view import UNRECORDED, ObjectStatus, StateRecord, StateView
from koppel.state import schema as t
from koppel.state.db import Database, Row, chunks, dumps
from koppel.state.groups import MembershipGroups
from koppel.state.records import IdentityRow

__all__ = ["DriftRepository", "ObjectReads"]

_KIND = {k.value: k for k in ObjectKind}
_STATUS = {s.value: s for s in ObjectStatus}


class _LazyCounts(Mapping[Any, int]):
    """Counts computed on first use: the guards need the memberships per school only when a plan would
    remove some, so a plan without removals never pays for counting a million rows."""

    def __init__(self, count: Callable[[], dict[Any, int]]):
        self._count: Callable[[], dict[Any, int]] | None = count
        self._counts: dict[Any, int] = {}

    def _loaded(self) -> dict[Any, int]:
        if self._count is not None:
            self._counts, self._count = self._count(), None
        return self._counts

    def __getitem__(self, key: Any) -> int:
        return self._loaded()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


class ObjectReads:
    """The objects of a state as a plan, the dashboard and `koppel show` read them."""

    def __init__(self, db: Database):
        self.db = db
        self.groups = MembershipGroups(db)

    def load_view(self, tenant: str, target: str, *, lean: bool = True) -> StateView:
        """The index of every object, without attributes — the plan asks for those of the few objects it
        shows a before for (:meth:`load_details`).

        ``lean`` (for planning): persons and groups become records; active memberships — most of a
        bestuur's million rows, each fully described by its key and fingerprint — are only a
        ``key → fingerprint`` table, and their number per school (for the guards) is counted only when
        asked for. ``lean=False`` (for reconciliation) makes a record of every object. It reads through
        the DB-API cursor (SQLAlchemy's row objects cost more than the rows themselves) and shares the
        strings that repeat."""
        return self.load_for_plan(tenant, target, lean=lean)[0]

    def load_for_plan(self, tenant: str, target: str, *, lean: bool = True,
                      by_group: bool = False) -> tuple[StateView, list[IdentityRow]]:
        """:meth:`load_view` and :meth:`identity_rows` from one pass over the persons and groups.

        ``by_group`` (a plan): when the state's per-group membership digests describe it as it is
        (:class:`~koppel.state.groups.MembershipGroups`), the active memberships are not loaded: the view holds
        the digests (``membership_digests``) and the caller loads the members of the groups that differ
        (:meth:`group_members`)."""
        state_id, lineage, serial = self.db.ensure_state(tenant, target)
        # A SQLite file usually holds one tenant and target: then one pass over the table beats following
        # the index row by row (a third faster for a million rows).
        hint = "NOT INDEXED" if self.db.dialect == "sqlite" and self.db.single_state() else ""
        records, identities = self._records(state_id, hint, lean)
        if not lean:
            return StateView(tenant, target, lineage, serial, records), identities
        cached = self.groups.digests(state_id, lineage, serial) if by_group else None
        digests = cached[0] if cached is not None else None
        # Key and fingerprint only, straight from the cursor's rows into the table (a third of the time
        # of a Python loop over a million rows).
        memberships: dict[str, str] = {}
        active = f"FROM objects {hint} WHERE state_id = {{p}} AND kind = 'membership' AND status = 'active'"
        if digests is None:
            for rows in self.db.raw_chunks(f"SELECT key, fingerprint {active}", state_id):
                memberships.update(rows)
        totals: Mapping[Any, int] = cached[1] if cached is not None and cached[1] is not None else _LazyCounts(
            lambda: dict(self.db.raw(f"SELECT school, count(*) {active} GROUP BY school", state_id)))
        sent_attrs, unrecorded = _reopen(records, memberships, self.db.raw(
            "SELECT key, kind, action, school, label, after FROM unrecorded WHERE state_id = {p}", state_id))
        view = StateView(tenant, target, lineage, serial, records, attrs_json=sent_attrs, memberships=memberships,
                         membership_totals=totals, unrecorded=unrecorded,
                         membership_target_ids=self._adopted_membership_ids(tenant, target, state_id, active),
                         membership_digests=digests)
        return view, identities

    def group_members(self, tenant: str, target: str, groups: Iterable[str]) -> dict[str, str]:
        """The active memberships (key → fingerprint) of these groups, from the per-group cache."""
        state_id = self.db.state_id(tenant, target)
        return {} if state_id is None else self.groups.members(state_id, groups)

    def advance_group_digests(self, tenant: str, target: str, lineage: str, before: int, after: int,
                              changes: Iterable[tuple[str, str | None]]) -> bool:
        """Carry the per-group membership cache over an apply (:meth:`MembershipGroups.advance`)."""
        state_id = self.db.state_id(tenant, target)
        return state_id is not None and self.groups.advance(state_id, lineage, before, after, changes)

    def store_group_digests(self, view: StateView) -> bool:
        """Write the per-group membership cache from a view that holds every active membership as the state has
        it (loaded in full, nothing unrecorded, no drift); False when the view is not such a view."""
        if view.membership_digests is not None or view.unrecorded or view.drift:
            return False
        state_id = self.db.state_id(view.tenant, view.target)
        if state_id is None:
            return False
        return self.groups.store(state_id, view.lineage, view.serial, view.memberships, view.membership_totals)

    def _records(self, state_id: int, hint: str, lean: bool) -> tuple[dict[str, StateRecord], list[IdentityRow]]:
        """The records of a state (without the active memberships when ``lean``) and its persons' identities."""
        only = " AND NOT (kind = 'membership' AND status = 'active')" if lean else ""
        sql = (
            "SELECT key, kind, status, fingerprint, school,"
            " CASE WHEN kind = 'membership' THEN NULL ELSE label END,"
            " CASE WHEN target_id = key THEN NULL ELSE target_id END,"
            " absent_since, delete_after,"
            " CASE WHEN kind = 'membership' THEN NULL ELSE meta END,"
            " CASE WHEN kind = 'person' THEN attrs ELSE NULL END"
            f" FROM objects {hint} WHERE state_id = {{p}}{only}"
        )
        records: dict[str, StateRecord] = {}
        identities: list[IdentityRow] = []
        kinds, statuses = _KIND, _STATUS
        group, person = ObjectKind.GROUP, ObjectKind.PERSON
        shared: dict[str | None, str | None] = {}
        intern = shared.setdefault
        loads = orjson.loads
        new = tuple.__new__  # StateRecord is a named tuple: build it without a Python-level __new__
        for rows in self.db.raw_chunks(sql, state_id):
            for key, kind, status, fp, school, label, target_id, absent, delete_after, meta, attrs in rows:
                k = kinds[kind]
                parent = group_type = None
                if k is group:
                    if meta:
                        group_meta = loads(meta)
                        parent, group_type = group_meta.get("parent"), group_meta.get("type")
                elif k is person:
                    identities.append((key, loads(attrs), loads(meta) if meta else {}, status))
                records[key] = new(StateRecord, (k, key, statuses[status], intern(fp, fp), intern(school, school),
                                                 label, target_id, absent, delete_after, parent, None, group_type))
        return records, identities

    def _adopted_membership_ids(self, tenant: str, target: str, state_id: int, active: str) -> dict[str, str]:
        """Active memberships whose target id is not the one koppel derives (``<person id>|<group id>``), as
        key → target id: memberships a takeover adopted under the previous koppeling's ids. A lean membership
        carries no target id, and updating or deleting one of these under a derived id would miss it. Only a
        state that went through a takeover can hold them: the others skip the query."""
        if not self._had_takeover(tenant, target):
            return {}
        return {str(key): str(target_id) for key, target_id in self.db.raw(
            f"SELECT key, target_id {active} AND target_id IS NOT NULL"
            " AND substr(key, 1, length(target_id) + 1) <> target_id || '|'", state_id)}

    def _had_takeover(self, tenant: str, target: str) -> bool:
        r = t.runs.c
        with self.db.reading() as conn:
            return conn.execute(select(r.id).where(
                r.tenant == tenant, r.target == target, r.kind == RunKind.TAKEOVER.value,
                r.status == RunStatus.SUCCEEDED.value).limit(1)).first() is not None

    def load_details(self, tenant: str, target: str, keys: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Attribute JSON and labels of these objects (what the plan shows as *before*)."""
        state_id = self.db.state_id(tenant, target)
        wanted = set(keys)
        attrs: dict[str, str] = {}
        labels: dict[str, str] = {}
        if state_id is None or not wanted:
            return attrs, labels
        if len(wanted) > 20000:
            # Many (a jaarovergang): one scan beats thousands of IN lists.
            rows: Iterable[Row] = (r for r in self.db.raw("SELECT key, attrs, label FROM objects WHERE state_id = {p}",
                                                          state_id) if r[0] in wanted)
        else:
            rows = self._details(state_id, sorted(wanted))
        for key, a, label in rows:
            attrs[key] = a
            if label:
                labels[key] = label
        return attrs, labels

    def _details(self, state_id: int, keys: list[str]) -> Iterator[Row]:
        o = t.objects.c
        with self.db.reading() as conn:
            for chunk in chunks(keys, 900):
                for row in conn.execute(select(o.key, o.attrs, o.label).where(o.state_id == state_id,
                                                                               o.key.in_(chunk))):
                    yield tuple(row)

    def load_attrs(self, tenant: str, target: str, keys: Iterable[str]) -> dict[str, str]:
        return self.load_details(tenant, target, keys)[0]

    def object(self, tenant: str, target: str, key: str) -> dict[str, Any] | None:
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return None
        with self.db.reading() as conn:
            row = conn.execute(
                select(t.objects).where(t.objects.c.state_id == state_id, t.objects.c.key == key)
            ).mappings().first()
        if row is None:
            return None
        out = {str(k): v for k, v in row.items()}
        out["attrs"] = orjson.loads(out["attrs"])
        out["meta"] = orjson.loads(out["meta"]) if out["meta"] else {}
        return out

    def counts(self, tenant: str, target: str) -> dict[str, dict[str, int]]:
        """Objects per kind and status."""
        state_id = self.db.state_id(tenant, target)
        out: dict[str, dict[str, int]] = {}
        if state_id is None:
            return out
        o = t.objects.c
        with self.db.reading() as conn:
            for row in conn.execute(select(o.kind, o.status, func.count().label("n"))
                                    .where(o.state_id == state_id).group_by(o.kind, o.status)):
                out.setdefault(str(row.kind), {})[str(row.status)] = int(row.n)
        return out

    def school_names(self, tenant: str, target: str) -> dict[str, str]:
        """BRIN6 → school name, from the school groups koppel manages."""
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return {}
        o = t.objects.c
        with self.db.reading() as conn:
            rows = conn.execute(select(o.school, o.label).where(
                o.state_id == state_id, o.key >= "school:", o.key < "school;", o.kind == ObjectKind.GROUP.value))
            return {str(school): str(label) for school, label in rows if school and label}

    def identity_rows(self, tenant: str, target: str) -> Iterator[IdentityRow]:
        """(sync key, attrs, meta, status) of every person: the rules' identity index is built from these.
        (Planning gets them from :meth:`load_for_plan`'s pass over the objects instead.)"""
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return
        o = t.objects.c
        with self.db.reading() as conn:
            rows = conn.execute(select(o.key, o.attrs, o.meta, o.status).where(
                o.state_id == state_id, o.kind == ObjectKind.PERSON.value))
            for row in rows:
                yield str(row.key), orjson.loads(row.attrs), (orjson.loads(row.meta) if row.meta else {}), str(row.status)

    def unrecorded(self, tenant: str, target: str) -> list[dict[str, Any]]:
        """What was sent to the target and has no recorded outcome (sent again by the next plan)."""
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return []
        u = t.unrecorded.c
        with self.db.reading() as conn:
            rows = conn.execute(select(u.key, u.kind, u.action, u.run_id, u.plan_id, u.sent_at, u.school, u.label)
                                .where(u.state_id == state_id).order_by(u.sent_at, u.key))
            return [dict(r._mapping) for r in rows]


class DriftRepository:
    """What the latest reconciliation saw changed by hand in the platform, per object.

    Recording a change clears its object's drift; whether there is any drift at all is remembered per
    state (:meth:`has_drift`), so that a state without drift (the usual case) costs recording no
    statement. The memory is forgotten when a run takes the state's lock (:meth:`forget`): drift only
    changes under that lock, possibly in another process."""

    def __init__(self, db: Database):
        self.db = db
        self._known: dict[int, bool] = {}  # state id -> any drift rows

    def replace_drift(self, tenant: str, target: str, drift: Mapping[str, Mapping[str, Any]]) -> None:
        """Store what the latest reconciliation saw changed by hand: {key: {field: platform value}}."""
        state_id = self.db.state_id_for_write(tenant, target)
        now = self.db.now()
        with self.db.transaction() as conn:
            conn.execute(delete(t.drift).where(t.drift.c.state_id == state_id))
            if drift:
                conn.execute(insert(t.drift), [
                    {"state_id": state_id, "key": key, "fields": dumps(dict(fields)), "seen_at": now}
                    for key, fields in drift.items()
                ])
        self._known[state_id] = bool(drift)

    def load_drift(self, tenant: str, target: str) -> dict[str, dict[str, Any]]:
        state_id = self.db.state_id(tenant, target)
        if state_id is None:
            return {}
        with self.db.reading() as conn:
            rows = conn.execute(select(t.drift.c.key, t.drift.c.fields).where(t.drift.c.state_id == state_id))
            out: dict[str, dict[str, Any]] = {str(row.key): orjson.loads(row.fields) for row in rows}
        self._known[state_id] = bool(out)
        return out

    def has_drift(self, state_id: int, conn: Connection | None = None) -> bool:
        """Whether the state holds drift rows: asked once (one indexed row at most), then remembered."""
        known = self._known.get(state_id)
        if known is None:
            query = select(t.drift.c.key).where(t.drift.c.state_id == state_id).limit(1)
            if conn is None:
                with self.db.reading() as reader:
                    known = reader.execute(query).first() is not None
            else:
                known = conn.execute(query).first() is not None
            self._known[state_id] = known
        return known

    def forget(self, tenant: str, target: str) -> None:
        """Forget whether the state has drift (another process may have reconciled it since)."""
        state_id = self.db.state_id(tenant, target)
        if state_id is not None:
            self._known.pop(state_id, None)

    def clear(self, conn: Connection, state_id: int, keys: list[str]) -> None:
        """Inside a recording transaction: drop the drift of objects whose change the target confirmed."""
        if not keys or not self.has_drift(state_id, conn):
            return
        for chunk in chunks(keys, 900):
            conn.execute(delete(t.drift).where(t.drift.c.state_id == state_id, t.drift.c.key.in_(chunk)))


_UNRECORDED_STATUS = {Action.RESTORE.value: ObjectStatus.ACTIVE}


def _reopen(records: dict[str, StateRecord], memberships: dict[str, str],
            rows: Iterable[Row]) -> tuple[dict[str, str], dict[str, str]]:
    """Fold what was sent and not recorded into the plan's view of the state (in place).

    The platform may or may not hold such a change, so the plan must send the object again, as the LAS
    has it now: its fingerprint becomes ``UNRECORDED`` (it never equals a real one) and ``unrecorded``
    names the action sent (the plan picks the action that sends it again). A create the state has no
    record of becomes an active record with the attributes sent, and a restore makes the record active,
    so that an object the LAS dropped meanwhile is removed rather than left behind on the platform.
    Returns (attribute JSON of those created records, key → action sent)."""
    attrs: dict[str, str] = {}
    unrecorded: dict[str, str] = {}
    active, deleted = ObjectStatus.ACTIVE, ObjectStatus.DELETED
    for key, kind, action, school, label, after in rows:
        unrecorded[key] = action
        if key in memberships:
            memberships[key] = UNRECORDED
            continue
        rec = records.get(key)
        if rec is None or (rec.status is deleted and action == Action.CREATE.value):
            if action != Action.CREATE.value or after is None:
                continue  # a removal of something the state no longer holds: nothing to send again
            sent = orjson.loads(after)
            attrs[key] = after
            group = kind == ObjectKind.GROUP.value
            records[key] = StateRecord(_KIND[kind], key, active, UNRECORDED, school, label,
                                       rec.target_id if rec is not None else None, None, None,
                                       sent.get("parent") if group else None, None,
                                       sent.get("type") if group else None)
            continue
        records[key] = rec._replace(fingerprint=UNRECORDED, status=_UNRECORDED_STATUS.get(action, rec.status))
    return attrs, unrecorded
