"""What the state store hands out: runs, journal entries, locks and plans as small frozen records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["IdentityRow", "JournalEntry", "LockInfo", "PlanRecord", "RunInfo", "journal_entry", "plan_record",
           "run_info"]


@dataclass(frozen=True)
class RunInfo:
    id: int
    tenant: str
    target: str
    kind: str
    trigger: str
    status: str
    started_at: str
    finished_at: str | None
    plan_id: str | None
    summary: dict[str, Any]
    message: str | None
    approved_by: str | None


@dataclass(frozen=True)
class JournalEntry:
    id: int
    run_id: int
    plan_id: str | None
    at: str
    key: str
    kind: str
    action: str
    outcome: str
    school: str | None
    label: str | None
    reason: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    code: str | None
    message: str | None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class LockInfo:
    tenant: str
    target: str
    holder: str
    host: str
    pid: int
    purpose: str | None
    acquired_at: str
    heartbeat_at: str
    lease_s: int | None = None


@dataclass(frozen=True)
class PlanRecord:
    id: str
    tenant: str
    target: str
    created_at: str
    status: str
    lineage: str
    serial: int
    held: bool
    holds: list[dict[str, Any]]
    summary: dict[str, int]
    approved_by: str | None
    approved_at: str | None
    decided_by: str | None
    decided_at: str | None
    run_id: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


IdentityRow = tuple[str, dict[str, Any], dict[str, Any], str]
"""A person's (sync key, attrs, meta, status), what the rules' identity index is built from."""


def run_info(row: Mapping[Any, Any]) -> RunInfo:
    return RunInfo(
        id=row["id"], tenant=row["tenant"], target=row["target"], kind=row["kind"], trigger=row["trigger"],
        status=row["status"], started_at=row["started_at"], finished_at=row["finished_at"], plan_id=row["plan_id"],
        summary=orjson.loads(row["summary"]) if row["summary"] else {}, message=row["message"],
        approved_by=row["approved_by"],
    )


def journal_entry(row: Mapping[Any, Any]) -> JournalEntry:
    return JournalEntry(
        id=row["id"], run_id=row["run_id"], plan_id=row["plan_id"], at=row["at"], key=row["key"], kind=row["kind"],
        action=row["action"], outcome=row["outcome"], school=row["school"], label=row["label"], reason=row["reason"],
        before=orjson.loads(row["before"]) if row["before"] else None,
        after=orjson.loads(row["after"]) if row["after"] else None,
        code=row["code"], message=row["message"],
    )


def plan_record(row: Mapping[Any, Any]) -> PlanRecord:
    return PlanRecord(
        id=row["id"], tenant=row["tenant"], target=row["target"], created_at=row["created_at"], status=row["status"],
        lineage=row["lineage"], serial=row["serial"], held=bool(row["held"]),
        holds=orjson.loads(row["holds"]) if row["holds"] else [],
        summary=orjson.loads(row["summary"]) if row["summary"] else {},
        approved_by=row["approved_by"], approved_at=row["approved_at"], decided_by=row["decided_by"],
        decided_at=row["decided_at"], run_id=row["run_id"],
    )
