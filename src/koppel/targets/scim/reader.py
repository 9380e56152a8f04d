"""Reading a SCIM server back in koppel's vocabulary, for reconciliation. Read-only.

Every User and every Group, page by page (``startIndex``/``count``, RFC 7644 §3.4.2.4) until
``totalResults``; a Group's ``members`` become memberships keyed ``person|group|role`` by the externalIds of
both. SCIM keeps no role per member, so the role is inferred from the User's ``userType``: a pupil is a
``student``, staff a ``teacher`` (a mentor's klas membership therefore reads back as a teacher's), a guardian
a ``guardian``. Users and Groups without an ``externalId`` were not made by koppel: ``manual=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from koppel.errors import TargetProtocolError
from koppel.model.desired import ObjectKind
from koppel.targets.base import ReadObject, TargetSnapshot
from koppel.targets.scim import mapping
from koppel.targets.scim.client import ScimClient
from koppel.targets.scim.mapping import GroupView, MappingConfig, UserView

__all__ = ["ServerReader"]

MAX_PAGES = 100_000


@dataclass(frozen=True)
class ServerReader:
    client: ScimClient
    config: MappingConfig
    page_size: int = 100

    def read(self) -> TargetSnapshot:
        notes: list[str] = []
        users, users_complete = self._all("Users", mapping.parse_user, notes)
        groups, groups_complete = self._all("Groups", mapping.parse_group, notes)
        objects: list[ReadObject] = []
        by_id: dict[str, UserView] = {}
        for user in users:
            by_id[user.id] = user
            objects.append(ReadObject(ObjectKind.PERSON, user.external_id, mapping.person_attrs(user, self.config),
                                      target_id=user.id, manual=user.external_id is None))
        for group in groups:
            objects.append(ReadObject(ObjectKind.GROUP, group.external_id, mapping.group_attrs(group),
                                      target_id=group.id, manual=group.external_id is None))
            objects.extend(self._memberships(group, by_id))
        return TargetSnapshot(tuple(objects), complete=users_complete and groups_complete, notes=tuple(notes))

    def _memberships(self, group: GroupView, users: Mapping[str, UserView]) -> list[ReadObject]:
        out = []
        for member in group.members:
            user = users.get(member)
            if user is None or user.external_id is None or group.external_id is None:
                continue
            attrs = mapping.membership_attrs(user.external_id, group.external_id, self.config.role_of(user.user_type))
            key = f"{attrs['person']}|{attrs['group']}|{attrs['role']}"
            out.append(ReadObject(ObjectKind.MEMBERSHIP, key, attrs, target_id=f"{group.id}/{member}"))
        return out

    def _all(self, endpoint: str, parse: Callable[[Mapping[str, Any]], Any], notes: list[str]) -> tuple[list[Any], bool]:
        found: list[Any] = []
        start, total = 1, None
        for _ in range(MAX_PAGES):
            answer = self.client.get(endpoint, params={"startIndex": start, "count": self.page_size})
            if not answer.ok or answer.body is None:
                raise TargetProtocolError(f"GET /{endpoint} (page at {start}) answered {answer.detail}")
            resources = answer.body.get("Resources") or []
            total = int(answer.body.get("totalResults") or 0)
            found.extend(parse(data) for data in resources if isinstance(data, dict))
            start += len(resources)
            if not resources or start > total:
                break
        if total is not None and len(found) < total:
            notes.append(f"/{endpoint} announced {total} resources but {len(found)} were read")
            return found, False
        return found, True
