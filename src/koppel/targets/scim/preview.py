"""``koppel plan --show-payloads`` for SCIM: the requests ``apply`` would send, from the settings alone.

No token is read and no connection opened. The ids a SCIM server assigns are not known before the server
answers, so a path or a member shows ``<id of KEY>`` where the recorded id (or the one a look-up finds)
goes. With ``update_method = "put"`` (or a server without PATCH) the changes shown as PATCH are a GET and
a PUT with If-Match of the resource with the same changes merged in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from scim2_models import Context

from koppel.model.attrs import membership_attrs
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.targets.base import Payload
from koppel.targets.scim import mapping
from koppel.targets.scim.settings import ScimSettings, UserDelete

__all__ = ["preview"]


def preview(settings: Any, changes: Sequence[Change]) -> list[Payload]:
    """``TargetKind.preview`` for SCIM: the payloads of a batch of changes."""
    if not isinstance(settings, ScimSettings):
        settings = ScimSettings.model_validate(dict(settings))
    config = settings.mapping_config()
    out: list[Payload] = []
    for change in changes:
        try:
            out.extend(_payloads(change, settings, config))
        except ValueError:
            continue  # refused before anything is sent: apply reports it
    return out


def _id(key: str, change: Change) -> str:
    refs: Mapping[str, str] = (change.meta or {}).get("target_ids") or {}
    return refs.get(key) or (change.target_id if key == change.key and change.target_id else f"<id of {key}>")


def _body(data: Mapping[str, Any]) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()


def _payloads(change: Change, settings: ScimSettings, config: mapping.MappingConfig) -> list[Payload]:
    base = settings.url
    attrs = change.after if change.after is not None else (change.before or {})
    if change.kind is ObjectKind.PERSON:
        return _person(change, attrs, settings, config)
    if change.kind is ObjectKind.GROUP:
        if mapping.is_folder(attrs):
            return [Payload("nothing is sent: folders are not sent to SCIM (its groups are flat)", "")]
        path = f"PATCH {base}/Groups/{_id(change.key, change)}"
        if change.action in (Action.CREATE, Action.RESTORE):
            group = mapping.group_resource(change.key, str(attrs.get("name") or change.key))
            return [Payload(f"POST {base}/Groups (a Group found by its externalId is renamed instead)",
                            _body(mapping.wire(group, Context.RESOURCE_CREATION_REQUEST)))]
        if change.action is Action.DELETE:
            return [Payload(f"DELETE {base}/Groups/{_id(change.key, change)}", "")]
        name = mapping.archived_name(change.before or attrs, config) if change.action is Action.ARCHIVE \
            else str(attrs.get("name"))
        return [Payload(path, _body(mapping.wire(mapping.rename_patch(name), Context.RESOURCE_PATCH_REQUEST)))]
    if change.action is Action.UPDATE:
        return [Payload("nothing is sent: SCIM keeps no home organisation per member", "")]
    ref = membership_attrs(attrs)
    member = _id(ref["person"], change)
    patch = mapping.members_patch(add=[member]) if change.action is Action.CREATE \
        else mapping.members_patch(remove=[member])
    return [Payload(f"PATCH {base}/Groups/{_id(ref['group'], change)}",
                    _body(mapping.wire(patch, Context.RESOURCE_PATCH_REQUEST)))]


def _person(change: Change, attrs: Mapping[str, Any], settings: ScimSettings,
            config: mapping.MappingConfig) -> list[Payload]:
    base = settings.url
    path = f"{base}/Users/{_id(change.key, change)}"
    if change.action is Action.CREATE:
        user = mapping.user_resource(change.key, attrs, config)
        return [Payload(f"POST {base}/Users (a User found by its externalId is updated instead; a taken userName "
                        "is adopted only when its externalId is this key)",
                        _body(mapping.wire(user, Context.RESOURCE_CREATION_REQUEST)))]
    if change.action is Action.DELETE and settings.user_delete is UserDelete.DELETE:
        return [Payload(f"DELETE {path}", "")]
    if change.action in (Action.SUSPEND, Action.DELETE):
        patch = mapping.user_active_patch(False)
    elif change.action is Action.RESTORE:
        patch = mapping.user_patch(attrs, tuple(attrs), config, active=True)
    else:
        patch = mapping.user_patch(attrs, change.fields or tuple(attrs), config)
    return [Payload(f"PATCH {path}", _body(mapping.wire(patch, Context.RESOURCE_PATCH_REQUEST)))]
