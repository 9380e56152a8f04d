"""Runs and what they wrote in the journal (:class:`RunRepository`), and the reads of the LAS with their
data-quality reports (:class:`SourceReadRepository`). The notes of changes sent and not yet recorded are
written by :class:`~koppel.state.recording.Recorder` and read by :class:`~koppel.state.objects.ObjectReads`.
"""

from __future__ import annotations

import gzip
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update

from koppel.model.status import RunStatus
from koppel.state import schema as t
from koppel.state.db import Database, dumps
from koppel.state.records import JournalEntry, LockInfo, RunInfo, journal_entry, run_info

__all__ = ["RunRepository", "SourceReadRepository"]


class RunRepository:
    """The ``runs`` table and the journal read per run."""

    def __init__(self, db: Database):
        self.db = db

    def begin_run(self, tenant: str, target: str, *, kind: str, trigger: str = "cli",
                  plan_id: str | None = None, approved_by: str | None = None) -> int:
        with self.db.transaction() as conn:
            result = conn.execute(insert(t.runs).values(
                tenant=tenant, target=target, kind=kind, trigger=trigger, status=RunStatus.RUNNING.value,
                started_at=self.db.now(), plan_id=plan_id, approved_by=approved_by,
                host=socket.gethostname(), pid=os.getpid(),
            ))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(self, run_id: int, *, status: str, summary: Mapping[str, Any] | None = None,
                   message: str | None = None, plan_id: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "finished_at": self.db.now(), "message": message}
        if summary is not None:
            values["summary"] = dumps(summary)
        if plan_id is not None:
            values["plan_id"] = plan_id
        with self.db.transaction() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))

    def runs(self, tenant: str | None = None, target: str | None = None, *, limit: int = 50,
             since: str | None = None, offset: int = 0) -> list[RunInfo]:
        """The newest runs first (``offset`` pages on)."""
        r = t.runs.c
        query = select(t.runs).order_by(r.id.desc()).limit(limit)
        if offset:
            query = query.offset(offset)
        if tenant:
            query = query.where(r.tenant == tenant)
        if target:
            query = query.where(r.target == target)
        if since:
            query = query.where(r.started_at >= since)
        with self.db.reading() as conn:
            return [run_info(row) for row in conn.execute(query).mappings()]

    def run_times(self, tenant: str | None = None, target: str | None = None, *,
                  since: str) -> list[tuple[int, str, str]]:
        """(id, started at, status) of every run started since ``since``, oldest first: a few small
        columns, for a chart of months of runs."""
        r = t.runs.c
        query = select(r.id, r.started_at, r.status).where(r.started_at >= since).order_by(r.id)
        if tenant:
            query = query.where(r.tenant == tenant)
        if target:
            query = query.where(r.target == target)
        with self.db.reading() as conn:
            return [(int(row.id), str(row.started_at), str(row.status)) for row in conn.execute(query)]

    def run(self, run_id: int) -> RunInfo | None:
        with self.db.reading() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        return run_info(row) if row else None

    def lock_run(self, lock: LockInfo) -> RunInfo | None:
        """The run that took ``lock``: the newest run of its tenant and target by the same host and pid."""
        r = t.runs.c
        with self.db.reading() as conn:
            row = conn.execute(select(t.runs).where(
                r.tenant == lock.tenant, r.target == lock.target, r.host == lock.host, r.pid == lock.pid,
                r.started_at >= lock.acquired_at).order_by(r.id.desc()).limit(1)).mappings().first()
        return run_info(row) if row else None

    def fail_stale_runs(self, tenant: str, target: str) -> int:
        """Mark runs left 'running' by a killed process as failed (called under the run lock)."""
        r = t.runs.c
        with self.db.transaction() as conn:
            result = conn.execute(
                update(t.runs)
                .where(r.tenant == tenant, r.target == target, r.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.FAILED.value, finished_at=self.db.now(),
                        message="the process running this stopped")
            )
            return result.rowcount or 0

    # -- the journal of a run --------------------------------------------------------------------

    def run_journal(self, run_id: int, *, outcomes: Sequence[str] | None = None, limit: int = 1000) -> list[JournalEntry]:
        j = t.journal.c
        query = select(t.journal).where(j.run_id == run_id).order_by(j.id).limit(limit)
        if outcomes:
            query = query.where(j.outcome.in_(list(outcomes)))
        with self.db.reading() as conn:
            return [journal_entry(row) for row in conn.execute(query).mappings()]

    def run_journal_by_outcome(self, run_id: int, outcomes: Sequence[str], *, limit: int,
                               offset: int = 0) -> list[JournalEntry]:
        """A page of a run's journal entries with these outcomes, ordered by outcome first so the
        (run_id, outcome) index serves the query (migration 0002) for a run of a million changes."""
        j = t.journal.c
        query = (select(t.journal).where(j.run_id == run_id, j.outcome.in_(list(outcomes)))
                 .order_by(j.outcome, j.id).limit(limit).offset(offset))
        with self.db.reading() as conn:
            return [journal_entry(row) for row in conn.execute(query).mappings()]

    def outcome_counts(self, run_id: int) -> list[tuple[str | None, str, int]]:
        """(school, outcome, number of journal entries) of a run."""
        j = t.journal.c
        with self.db.reading() as conn:
            rows = conn.execute(select(j.school, j.outcome, func.count().label("n")).where(j.run_id == run_id)
                                .group_by(j.school, j.outcome)).all()
        return [(None if row.school is None else str(row.school), str(row.outcome), int(row.n)) for row in rows]


class SourceReadRepository:
    """Every read of a tenant's LAS, with its counts and diagnostics (the data-quality page)."""

    def __init__(self, db: Database):
        self.db = db

    def record_source_read(self, tenant: str, *, status: str, school_year: str | None, counts: Mapping[str, int],
                           sources: Sequence[Mapping[str, Any]], diagnostics: Sequence[Mapping[str, Any]],
                           message: str | None = None) -> int:
        errors = sum(1 for d in diagnostics if d.get("severity") == "error")
        with self.db.transaction() as conn:
            result = conn.execute(insert(t.source_reads).values(
                tenant=tenant, at=self.db.now(), school_year=school_year, status=status, counts=dumps(dict(counts)),
                sources=dumps(list(sources)), report=gzip.compress(orjson.dumps(list(diagnostics)), compresslevel=3),
                errors=errors, warnings=len(diagnostics) - errors, message=message,
            ))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def latest_source_read_id(self, tenant: str) -> int | None:
        """The id of the tenant's latest source read (None: never read)."""
        s = t.source_reads.c
        with self.db.reading() as conn:
            found = conn.execute(select(func.max(s.id)).where(s.tenant == tenant)).scalar()
        return None if found is None else int(found)

    def repeat_source_read(self, read_id: int) -> int | None:
        """Record source read ``read_id`` again, as of now: what a run that found the export's bytes unchanged
        read (the unchanged-input short cut) — its counts and diagnostics are those of the same bytes. None
        when that read is gone (purged)."""
        s = t.source_reads.c
        columns = [c for c in t.source_reads.columns if c.name not in ("id", "at")]
        with self.db.transaction() as conn:
            row = conn.execute(select(*columns).where(s.id == read_id)).mappings().first()
            if row is None:
                return None
            result = conn.execute(insert(t.source_reads).values(**dict(row), at=self.db.now()))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def latest_source_read(self, tenant: str, *, status: str | None = None) -> dict[str, Any] | None:
        s = t.source_reads.c
        q = select(t.source_reads).where(s.tenant == tenant).order_by(s.id.desc()).limit(1)
        if status:
            q = q.where(s.status == status)
        with self.db.reading() as conn:
            row = conn.execute(q).mappings().first()
        if row is None:
            return None
        out = {str(k): v for k, v in row.items()}
        out["counts"] = orjson.loads(out["counts"]) if out["counts"] else {}
        out["sources"] = orjson.loads(out["sources"]) if out["sources"] else []
        report = out.pop("report")
        out["diagnostics"] = orjson.loads(gzip.decompress(report)) if report else []
        return out
