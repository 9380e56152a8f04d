"""Moving the state: the only code that writes objects and the journal (DESIGN §6).

``record`` writes the journal rows and the object rows of one acknowledged batch in one transaction and
bumps the serial. Before a request goes out, the applier marks its changes as sent (``mark_sent``);
``record`` removes the mark with the outcome. A mark left behind makes the next plan send that object
again. ``record_takeover`` and ``adopt`` are the two other ways objects enter the state, also journaled.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError

from koppel.errors import StalePlanError, UnrecordedChanges
from koppel.model.change import Action, Change, ItemOutcome, ItemResult
from koppel.model.desired import ObjectKind
from koppel.model.keys import ADOPTED
from koppel.model.status import SKIPPED_CODE, JournalOutcome
from koppel.plan.state_view import ObjectStatus
from koppel.state import schema as t
from koppel.state.db import Database, chunks, dumps, explain, state_unavailable
from koppel.state.objects import DriftRepository

__all__ = ["Recorder"]

_JOURNAL_COLUMNS = tuple(c.name for c in t.journal.columns if c.name != "id")
_OBJECT_COLUMNS = tuple(c.name for c in t.objects.columns)
_MOVES_STATE = (Action.CREATE, Action.UPDATE, Action.RESTORE)


class _Batch:
    """The rows one batch of outcomes writes."""

    def __init__(self) -> None:
        self.journal: list[dict[str, Any]] = []
        self.upserts: list[dict[str, Any]] = []
        self.status_updates: list[dict[str, Any]] = []
        self.removals: list[str] = []

    def add(self, state_id: int, run_id: int, plan_id: str | None, now: str, change: Change,
            result: ItemResult) -> None:
        self.journal.append(_journal_row(state_id, run_id, plan_id, now, change, result))
        if not result.ok:
            return
        action = change.action
        dates = change.dates or {}
        if action in _MOVES_STATE:
            self.upserts.append(_object_row(state_id, now, change, result))
        elif action is Action.SUSPEND:
            self._status(change, ObjectStatus.SUSPENDED, dates.get("absent_since"), dates.get("delete_after"))
        elif action is Action.ARCHIVE:
            self._status(change, ObjectStatus.ARCHIVED, dates.get("absent_since"), None)
        elif action is Action.DELETE:
            if change.kind is ObjectKind.PERSON:
                # Kept (without attributes that identify more than needed) until the retention
                # period ends and `koppel purge` removes it with its history.
                self._status(change, ObjectStatus.DELETED, dates.get("absent_since"), None)
            else:
                self.removals.append(change.key)

    def _status(self, change: Change, status: ObjectStatus, absent_since: str | None,
                delete_after: str | None) -> None:
        self.status_updates.append({"b_key": change.key, "status": status.value, "absent_since": absent_since,
                                    "delete_after": delete_after})


class Recorder:
    """Writes what the target acknowledged: objects, journal, the sent-and-unrecorded notes, the serial."""

    def __init__(self, db: Database, drift: DriftRepository):
        self.db = db
        self.drift = drift

    def mark_sent(self, *, tenant: str, target: str, run_id: int, plan_id: str | None,
                  changes: Sequence[Change]) -> None:
        """Before a request goes out: note its changes as sent and not recorded, in one transaction.

        ``record`` removes the note with the outcome. A note left behind makes the next plan send the
        object again (see ``load_for_plan``). Raises ``StateUnavailable`` — then nothing was sent."""
        state_id = self.db.state_id_for_write(tenant, target)
        now = self.db.now()
        create = Action.CREATE
        rows = [(state_id, c.key, c.kind.value, c.action.value, run_id, plan_id, now, c.school, c.label or None,
                 dumps(dict(c.after)) if c.action is create and c.after is not None else None) for c in changes]
        try:
            with self.db.transaction() as conn:
                conn.exec_driver_sql(_mark_sql(self.db.marker), rows)
        except DBAPIError as exc:
            raise state_unavailable(exc, self.db.url, doing="note what it is about to send in") from exc

    def unmark(self, *, tenant: str, target: str, keys: Sequence[str]) -> None:
        """Close the notes of changes the platform refused as a whole before applying anything (a wrong
        endpoint, refused credentials): nothing to record, nothing to send again."""
        state_id = self.db.state_id_for_write(tenant, target)
        marker = self.db.marker
        try:
            with self.db.transaction() as conn:
                conn.exec_driver_sql(f"DELETE FROM unrecorded WHERE state_id = {marker} AND key = {marker}",
                                     [(state_id, k) for k in keys])
        except DBAPIError as exc:
            raise state_unavailable(exc, self.db.url, doing="write") from exc

    def record(self, *, tenant: str, target: str, run_id: int, plan_id: str | None,
               outcomes: Sequence[tuple[Change, ItemResult]]) -> int:
        """Journal every outcome and move the state of every acknowledged change, in one transaction.

        Returns the new serial. Failed and skipped outcomes are journaled but move no state. Every outcome
        closes its change's ``mark_sent`` note, and every confirmed change clears its object's drift. When
        the transaction fails, ``UnrecordedChanges`` says how many changes the platform confirmed that the
        state does not know: their notes stay, and the next plan sends them again.
        """
        state_id = self.db.state_id_for_write(tenant, target)
        now = self.db.now()
        batch = _Batch()
        for change, result in outcomes:
            batch.add(state_id, run_id, plan_id, now, change, result)
        try:
            return self._write(state_id, now, outcomes, batch)
        except DBAPIError as exc:
            answered = sum(1 for _, r in outcomes if r.code != SKIPPED_CODE)
            confirmed = sum(1 for _, r in outcomes if r.ok)
            reason, hint = explain(exc)
            raise UnrecordedChanges(
                f"the platform answered {answered:,} change(s) ({confirmed:,} confirmed), but koppel could not "
                f"record the answers in the state store {self.db.url}: {reason}"
                + (f" — {hint}" if hint else "") + ". The run stopped. Nothing is lost: what was sent and not "
                "recorded stays noted in the state, and the next run sends it again (`koppel plan` shows it)."
            ) from exc

    def _write(self, state_id: int, now: str, outcomes: Sequence[tuple[Change, ItemResult]], batch: _Batch) -> int:
        marker = self.db.marker
        with self.db.transaction() as conn:
            # The two bulk statements go to the driver as they are: SQLAlchemy's per-row parameter
            # processing would cost more than SQLite's own work on a batch of fifty.
            answered = [(state_id, c.key) for c, r in outcomes if r.code != SKIPPED_CODE]  # skipped: never sent
            if answered:
                conn.exec_driver_sql(f"DELETE FROM unrecorded WHERE state_id = {marker} AND key = {marker}", answered)
            if batch.journal:
                conn.exec_driver_sql(_insert_sql("journal", _JOURNAL_COLUMNS, marker),
                                     [tuple(r[c] for c in _JOURNAL_COLUMNS) for r in batch.journal])
            if batch.upserts:
                conn.exec_driver_sql(_upsert_sql(marker), [tuple(r[c] for c in _OBJECT_COLUMNS) for r in batch.upserts])
            if batch.status_updates:
                o = t.objects.c
                conn.execute(
                    update(t.objects)
                    .where(o.state_id == state_id, o.key == bindparam("b_key"))
                    .values(status=bindparam("status"), absent_since=bindparam("absent_since"),
                            delete_after=bindparam("delete_after"), updated_at=now),
                    batch.status_updates,
                )
            _delete_objects(conn, state_id, batch.removals)
            self.drift.clear(conn, state_id, [c.key for c, r in outcomes if r.ok])
            return self.db.bump_serial(conn, state_id, now)

    def adopt(self, tenant: str, target: str, key: str, target_id: str, *, approved_by: str,
              username: str | None = None) -> None:
        """Record that koppel's person ``key`` is the target's existing (manual) account ``target_id``.

        The account keeps its user name (the rules never rename an account koppel manages); the next
        plan updates the fields koppel owns."""
        state_id, _, _ = self.db.ensure_state(tenant, target)
        now = self.db.now()
        o = t.objects.c
        with self.db.transaction() as conn:
            row = conn.execute(select(o.key).where(o.state_id == state_id, o.key == key)).first()
            if row is not None:
                conn.execute(update(t.objects).where(o.state_id == state_id, o.key == key)
                             .values(target_id=target_id, updated_at=now))
            else:
                conn.execute(insert(t.objects).values(
                    state_id=state_id, key=key, kind=ObjectKind.PERSON.value, status=ObjectStatus.ACTIVE.value,
                    fingerprint=ADOPTED, attrs=dumps({"username": username} if username else {}), meta="{}",
                    target_id=target_id, person_key=key, created_at=now, updated_at=now,
                ))
            conn.execute(insert(t.journal).values(
                state_id=state_id, run_id=0, at=now, key=key, kind=ObjectKind.PERSON.value, action="adopt",
                outcome=JournalOutcome.DONE.value, person_key=key,
                reason=f"manual account {target_id} adopted, approved by {approved_by}",
            ))
            self.db.bump_serial(conn, state_id, now)

    def record_takeover(self, tenant: str, target: str, *, lineage: str, serial: int, changes: Sequence[Change],
                        drop: Sequence[str] = (), run_id: int, plan_id: str | None, approved_by: str) -> int:
        """Record a takeover (`koppel takeover --approve`) in one transaction: every adopted object with the
        platform's id and what the platform holds, every account recorded for later confirmation, and a
        journal entry for each; ``drop`` are records of an earlier takeover the adoptions replace.

        Compare-and-set on the state's serial: a takeover planned on another state is refused with
        ``StalePlanError`` and nothing is written. Returns the new serial."""
        state_id = self.db.state_id_for_write(tenant, target)
        now = self.db.now()
        done = [ItemResult(c.key, ItemOutcome.DONE, target_id=c.target_id) for c in changes]
        objects = [_object_row(state_id, now, c, r) for c, r in zip(changes, done, strict=True)]
        journal = []
        for change, result in zip(changes, done, strict=True):
            row = _journal_row(state_id, run_id, plan_id, now, change, result)
            row["action"] = "adopt" if change.fingerprint and not change.fingerprint.startswith("takeover-") else "record"
            row["reason"] = f"{change.reason}; approved by {approved_by}"
            journal.append(row)
        marker = self.db.marker
        s = t.targets_state.c
        with self.db.transaction() as conn:
            now_at = conn.execute(select(s.lineage, s.serial).where(s.id == state_id)).one()
            if (now_at.lineage, now_at.serial) != (lineage, serial):
                raise StalePlanError(
                    f"the takeover plan is stale: it was made on serial {serial} of this state, which is at "
                    f"{now_at.serial} now. Run `koppel takeover` again.")
            _delete_objects(conn, state_id, list(drop))
            for start in range(0, len(objects), 5000):
                conn.exec_driver_sql(_upsert_sql(marker), [tuple(r[c] for c in _OBJECT_COLUMNS)
                                                           for r in objects[start:start + 5000]])
                conn.exec_driver_sql(_insert_sql("journal", _JOURNAL_COLUMNS, marker),
                                     [tuple(r[c] for c in _JOURNAL_COLUMNS) for r in journal[start:start + 5000]])
            return self.db.bump_serial(conn, state_id, now)


def _delete_objects(conn: Connection, state_id: int, keys: Sequence[str]) -> None:
    for chunk in chunks(keys, 900):
        conn.execute(delete(t.objects).where(t.objects.c.state_id == state_id, t.objects.c.key.in_(chunk)))


@functools.lru_cache(maxsize=8)
def _insert_sql(table: str, columns: tuple[str, ...], marker: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"


@functools.lru_cache(maxsize=4)
def _upsert_sql(marker: str) -> str:
    """Insert or update an object; the target id a change did not report is kept (SQLite and PostgreSQL)."""
    keep = {"state_id", "key", "created_at"}
    sets = [f"{c} = excluded.{c}" for c in _OBJECT_COLUMNS if c not in keep and c != "target_id"]
    sets.append("target_id = COALESCE(excluded.target_id, objects.target_id)")
    return (_insert_sql("objects", _OBJECT_COLUMNS, marker)
            + " ON CONFLICT (state_id, key) DO UPDATE SET " + ", ".join(sets))


@functools.lru_cache(maxsize=4)
def _mark_sql(marker: str) -> str:
    columns = tuple(c.name for c in t.unrecorded.columns)
    sets = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("state_id", "key"))
    return _insert_sql("unrecorded", columns, marker) + f" ON CONFLICT (state_id, key) DO UPDATE SET {sets}"


def _person_key(change: Change, attrs: Any) -> str | None:
    if change.kind is ObjectKind.PERSON:
        return change.key
    if change.kind is ObjectKind.MEMBERSHIP:
        person = attrs.get("person")
        return None if person is None else str(person)
    return None


def _object_row(state_id: int, now: str, change: Change, result: ItemResult) -> dict[str, Any]:
    # An update or restore sends only what koppel owns: what the target keeps of the rest stays recorded.
    attrs = dict(change.before or {}) if change.action in (Action.UPDATE, Action.RESTORE) else {}
    attrs.update(change.after or {})
    meta = dict(change.meta or {})
    if change.kind is ObjectKind.GROUP:
        meta["parent"] = attrs.get("parent")
        meta["type"] = attrs.get("type")
    search = None
    if change.kind is ObjectKind.PERSON:
        parts = [change.label, meta.get("leerlingnummer"), meta.get("docentcode"), attrs.get("username"),
                 attrs.get("email")]
        search = " ".join(str(p) for p in parts if p).lower()
    return {
        "state_id": state_id,
        "key": change.key,
        "kind": change.kind.value,
        "status": ObjectStatus.ACTIVE.value,
        "school": change.school,
        "label": change.label or None,
        "fingerprint": change.fingerprint or "",
        "attrs": dumps(attrs),
        "meta": dumps(meta),
        "target_id": result.target_id or change.target_id,
        "person_key": _person_key(change, attrs),
        "search": search,
        "absent_since": None,
        "delete_after": None,
        "created_at": now,
        "updated_at": now,
    }


def _journal_row(state_id: int, run_id: int, plan_id: str | None, now: str, change: Change,
                 result: ItemResult) -> dict[str, Any]:
    return {
        "state_id": state_id,
        "run_id": run_id,
        "plan_id": plan_id,
        "at": now,
        "key": change.key,
        "kind": change.kind.value,
        "action": change.action.value,
        "outcome": JournalOutcome.of(result).value,
        "school": change.school,
        "label": change.label or None,
        "person_key": _person_key(change, change.after or change.before or {}),
        "reason": change.reason,
        "before": dumps(dict(change.before)) if change.before is not None else None,
        "after": dumps(dict(change.after)) if change.after is not None else None,
        "code": result.code,
        "message": result.message,
    }
