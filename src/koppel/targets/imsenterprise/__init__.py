"""IMS Enterprise 1.1 XML files for Moodle's enrol_imsenterprise and itslearning's IMS-E import
(docs/targets/ims-enterprise.md).

Layout, pure first: :mod:`.settings` (the documented settings), :mod:`.mapping` (objects → records, the text
rules Moodle's regular expressions need, the events a change adds), :mod:`.document` (which records a file holds,
in which order, streamed); then :mod:`.carry` (the changes a Moodle file repeats), :mod:`.target` (stage,
publish, read, check) and :mod:`.reader` (the mirror as a snapshot; an IMS Enterprise file parsed safely).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from koppel.connectors import ConnectorContext, TargetKind
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.targets.base import Payload
from koppel.targets.imsenterprise.document import event_records
from koppel.targets.imsenterprise.mapping import (
    GROUP_ID_LIMIT,
    PERSON_ID_LIMIT,
    SUPPORTED,
    MappingConfig,
    Refusal,
    event_of,
    group_record,
    member_line,
    membership_record,
    person_record,
    wire_id,
)
from koppel.targets.imsenterprise.settings import ImsEnterpriseSettings, Mode
from koppel.targets.imsenterprise.target import ImsEnterpriseTarget

__all__ = ["KIND", "ImsEnterpriseSettings", "ImsEnterpriseTarget", "factory", "preview"]

_NOT_A_COURSE_PREFIXES = {"school:": "school", "year:": "folder", "leerjaar:": "folder"}


def factory(name: str, settings: ImsEnterpriseSettings | Mapping[str, Any], ctx: ConnectorContext) -> ImsEnterpriseTarget:
    """Build the target ``name``: paths relative to koppel.toml's folder."""
    if not isinstance(settings, ImsEnterpriseSettings):
        settings = ImsEnterpriseSettings.model_validate(dict(settings))
    folder = ctx.path(settings.folder)
    mirror = ctx.path(settings.mirror_path) if settings.mirror_path else None
    return ImsEnterpriseTarget(name, settings, folder=folder, mirror_path=mirror)


def _group_type(key: str) -> str:
    return next((t for prefix, t in _NOT_A_COURSE_PREFIXES.items() if key.startswith(prefix)), "course")


def preview(settings: Any, changes: Sequence[Change]) -> list[Payload]:
    """``TargetKind.preview``: the record(s) each change puts in the next file, from the settings alone.

    Without the published roster a preview cannot see parents: a course's category (``<org>``) is left out, and
    a membership's group counts as a course unless its key is a school's or a folder's."""
    if not isinstance(settings, ImsEnterpriseSettings):
        settings = ImsEnterpriseSettings.model_validate(dict(settings))
    config = MappingConfig.of(settings)
    file_name = settings.file_name
    payloads: list[Payload] = []
    for change in changes:
        if (change.kind, change.action) not in SUPPORTED:
            continue
        try:
            payloads.extend(_preview_one(change, config, settings, file_name))
        except Refusal:
            continue  # apply refuses it with the reason; the CLI says so
    return payloads


def _preview_one(change: Change, config: MappingConfig, settings: ImsEnterpriseSettings,
                 file_name: str) -> list[Payload]:
    attrs = {**(change.before or {}), **(change.after or {})}
    gone = change.action in (Action.DELETE,)
    after = None if gone else attrs
    if change.kind is ObjectKind.MEMBERSHIP:
        group_key, person_key = str(attrs.get("group")), str(attrs.get("person"))
        group_type = _group_type(group_key)
        ids: dict[str, Any] = {"person_id": wire_id(person_key, PERSON_ID_LIMIT), "username": "",
                               "group_id": wire_id(group_key, GROUP_ID_LIMIT), "group_type": group_type}
        if not config.writes_group(group_type):
            return [Payload(f"{file_name}: no record", f"{group_key} is a {group_type}, not a Moodle course: its "
                            "memberships are not written")]
    else:
        limit = PERSON_ID_LIMIT if change.kind is ObjectKind.PERSON else GROUP_ID_LIMIT
        ids = {"id": change.target_id or wire_id(change.key, limit)}
        if change.kind is ObjectKind.GROUP and not config.writes_group(attrs.get("type")):
            return [Payload(f"{file_name}: no record", f"a {attrs.get('type')} is not a Moodle course: its name is "
                            "the category (<org><orgunit>) of the courses under it")]
    if not config.moodle:
        return [_itslearning_payload(change, attrs, ids, config, file_name)]
    if change.action is Action.CREATE and settings.mode is Mode.SNAPSHOT:
        return [_steady(change, attrs, ids, config, file_name)]
    event = event_of(change, change.before or {}, after, config, ids=ids)
    if event is None:
        reason = ("nothing: Moodle has no suspend; the account stays, its enrolments go with its memberships"
                  if change.action is Action.SUSPEND else "nothing for Moodle")
        return [Payload(f"{file_name}: no record", reason)]
    return [Payload(f"{file_name}: <{event.kind.value}>" + (f' recstatus="{r}"' if r else ""), text.rstrip("\n"))
            for r, text in event_records(event, config)]


def _steady(change: Change, attrs: Mapping[str, Any], ids: Mapping[str, Any], config: MappingConfig,
            file_name: str) -> Payload:
    """A create in a snapshot: the record every file holds from now on, without recstatus."""
    if change.kind is ObjectKind.PERSON:
        text = person_record(str(ids["id"]), attrs, config)
    elif change.kind is ObjectKind.GROUP:
        text = group_record(str(ids["id"]), attrs, config)
    else:
        roletype = config.role_codes.get(str(attrs.get("role")))
        if roletype is None:
            raise Refusal(f"no roletype for {attrs.get('role')}")
        text = membership_record(str(ids["group_id"]), [member_line(str(ids["person_id"]), str(ids["username"]),
                                                                    roletype, config)], config)
    return Payload(f"{file_name}: <{change.kind.value}> in every snapshot from now on", text.rstrip("\n"))


def _itslearning_payload(change: Change, attrs: Mapping[str, Any], ids: Mapping[str, Any], config: MappingConfig,
                         file_name: str) -> Payload:
    if change.action in (Action.DELETE, Action.SUSPEND):
        return Payload(f"{file_name}: left out", f"the {change.kind.value} is left out of the next snapshot; "
                       "itslearning's import removes what a file no longer holds")
    return _steady(change, attrs, ids, config, file_name)


KIND = TargetKind(
    kind="ims-enterprise",
    summary="IMS Enterprise 1.1 XML files for Moodle (enrol_imsenterprise) and itslearning's IMS-E import",
    settings=ImsEnterpriseSettings,
    factory=factory,
    actions=SUPPORTED,
    preview=preview,
)
