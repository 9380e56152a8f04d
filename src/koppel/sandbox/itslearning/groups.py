"""Group rules: itslearning's hierarchy (Site › School › Unspecified › Course › CourseGroup) and courses.

Sources (itslearning-and-target-formats §1.3, §1.7; deleteGroup.html; Creating-courses-and-course-
groups.html; Courses.html):

* createGroup and updateGroup are the same upsert; the parent ``relationship`` must be sent every time.
* The type is ``groupType{scheme=ItslearningOrganisationTypes, typeValue/type}``; without a groupType a
  group is a Course. ``typeValue/level`` 1 means School and must agree with the type.
* A parent must exist; a CourseGroup's parent must be a Course. There is one Site: the root, no parent.
* Type changes: a hierarchy with a course keeps its type; Site, School and CourseGroup cannot become a
  Course; Unspecified can (and gets its course then).
* A Course needs the extension field ``course`` (the title); ``course/code`` and ``course/credits`` are
  optional. The course takes the hierarchy's sync id.
* deleteGroup deletes the hierarchy, its descendants and all their memberships, but courses cannot be
  deleted over IMS ES: they are only disconnected, and stay (orphaned) until removed in the UI.
"""

from __future__ import annotations

from .model import (
    GROUP_TYPE_SCHEME,
    CodeMinor,
    ExtensionField,
    Group,
    GroupData,
    GroupType,
    ObjectKind,
    Status,
)
from .rules import Context, Limits, check_length, merge_fields, reject, require_key
from .store import Store

__all__ = ["COURSE_FIELDS", "delete_group", "existing_group", "upsert_group"]

COURSE_TITLE, COURSE_CODE, COURSE_CREDITS = "course", "course/code", "course/credits"
COURSE_FIELDS = frozenset({COURSE_TITLE, COURSE_CODE, COURSE_CREDITS})
SCHOOL_LEVEL = "1"
_CANNOT_BECOME_COURSE = frozenset({GroupType.SITE, GroupType.SCHOOL, GroupType.COURSE_GROUP})


def upsert_group(store: Store, context: Context, key: str | None, data: GroupData | None) -> Status:
    key = require_key(key, ObjectKind.GROUP, Limits.GROUP_KEY)
    context.check_doomed(ObjectKind.GROUP, key)
    if data is None:
        reject(CodeMinor.INCOMPLETEDATA, f"The request for group '{key}' carries no 'group'.")
    group_type = _group_type(data)
    existing = store.group_by_key(key)
    if existing is not None:
        _check_type_change(existing, group_type)
    parent = _parent(store, data, group_type, existing)
    _check_single_site(store, key, group_type)
    course = _course_values(key, group_type, data.extension_fields)
    values = {
        **_description_values(data),
        "type": group_type.value,
        "parent_id": None if parent is None else parent.id,
        "updated_at": context.now,
    }
    other_fields = tuple(field for field in data.extension_fields if field.name not in COURSE_FIELDS)
    if existing is None:
        group_id = store.insert_group(
            {**values, "sync_id": key, "extension": other_fields, "created_at": context.now}
        )
    else:
        group_id = existing.id
        store.update_group(
            group_id, {**values, "extension": merge_fields(existing.extension_fields, other_fields)}
        )
    if course is not None:
        _save_course(store, context, existing_group(store, key), course)
    return Status.success()


def _group_type(data: GroupData) -> GroupType:
    """The type a group asks for; an absent groupType means Course (Managing_groups.html)."""
    if data.scheme and data.scheme != GROUP_TYPE_SCHEME:
        reject(
            CodeMinor.UNKNOWNVOCAB, f"groupType/scheme '{data.scheme}' is unknown; use '{GROUP_TYPE_SCHEME}'."
        )
    group_type = _type_from_name(data.type_name)
    if data.level:
        group_type = _check_level(group_type, data.level)
    return group_type or GroupType.COURSE


def _type_from_name(name: str | None) -> GroupType | None:
    if not name:
        return None
    try:
        return GroupType(name)
    except ValueError:
        allowed = ", ".join(group_type.value for group_type in GroupType)
        reject(CodeMinor.UNKNOWNVOCAB, f"typeValue/type '{name}' is unknown; use one of {allowed}.")


def _check_level(group_type: GroupType | None, level: str) -> GroupType:
    """``typeValue/level``: only School = 1 is documented, and type and level must match."""
    if group_type is None:
        if level.strip() != SCHOOL_LEVEL:
            reject(CodeMinor.UNKNOWNVOCAB, f"typeValue/level '{level}' is unknown; send typeValue/type.")
        return GroupType.SCHOOL
    if (group_type is GroupType.SCHOOL) != (level.strip() == SCHOOL_LEVEL):
        reject(
            CodeMinor.INVALIDDATA,
            f"typeValue/type '{group_type}' and typeValue/level '{level}' do not match.",
        )
    return group_type


def _description_values(data: GroupData) -> dict[str, str | int | None]:
    if not data.name:
        reject(CodeMinor.INCOMPLETEDATA, "The group's 'description/descShort' (its name) is mandatory.")
    check_length(data.name, Limits.DESC_SHORT, "description/descShort")
    check_length(data.desc_long, Limits.DESC_LONG, "description/descLong")
    check_length(data.desc_full, Limits.DESC_FULL, "description/descFull")
    values: dict[str, str | int | None] = {"name": data.name}
    for column, value in (("desc_long", data.desc_long), ("desc_full", data.desc_full)):
        if value is not None:
            values[column] = value or None
    return values


def _check_type_change(existing: Group, new_type: GroupType) -> None:
    if existing.type is new_type:
        return
    if existing.course is not None:
        reject(
            CodeMinor.INVALIDDATA,
            f"The hierarchy '{existing.sync_id}' has a course, so its type cannot change to {new_type}.",
        )
    if new_type is GroupType.COURSE and existing.type in _CANNOT_BECOME_COURSE:
        reject(
            CodeMinor.INVALIDDATA,
            f"A {existing.type} hierarchy cannot become a Course; only an Unspecified one can.",
        )


def _parent(store: Store, data: GroupData, group_type: GroupType, existing: Group | None) -> Group | None:
    if group_type is GroupType.SITE:
        if data.parent_key:
            reject(CodeMinor.INVALIDDATA, "The Site is the root of the hierarchy and cannot have a parent.")
        return None
    if data.relation is None or not data.parent_key:
        reject(
            CodeMinor.INCOMPLETEDATA,
            "The group's parent 'relationship{relation=Parent, sourceId}' is mandatory on every create "
            "and update.",
        )
    if data.relation != "Parent":
        reject(CodeMinor.INVALIDDATA, f"relationship/relation '{data.relation}' is not 'Parent'.")
    parent = existing_group(store, data.parent_key, role="parent group")
    if group_type is GroupType.COURSE_GROUP and parent.type is not GroupType.COURSE:
        reject(
            CodeMinor.INVALIDDATA,
            f"A CourseGroup's parent must be a Course; '{parent.sync_id}' is a {parent.type}.",
        )
    if existing is not None and parent.id in store.subtree_ids(existing.id):
        reject(
            CodeMinor.INVALIDDATA,
            f"'{parent.sync_id}' lies inside '{existing.sync_id}' and cannot be its parent.",
        )
    return parent


def _check_single_site(store: Store, key: str, group_type: GroupType) -> None:
    if group_type is not GroupType.SITE:
        return
    site = store.site_group()
    if site is not None and site.sync_id != key:
        reject(
            CodeMinor.INVALIDDATA, f"The site already has its root Site '{site.sync_id}'; there is only one."
        )


def _course_values(
    key: str, group_type: GroupType, fields: tuple[ExtensionField, ...]
) -> dict[str, str | None] | None:
    """The course's columns for a Course (its title is mandatory); None for other types."""
    if group_type is not GroupType.COURSE:
        return None
    values = {field.name: field.value for field in fields}
    if not values.get(COURSE_TITLE):
        reject(
            CodeMinor.INCOMPLETEDATA, f"The Course '{key}' needs the extension field 'course' (its title)."
        )
    return {
        "title": values[COURSE_TITLE],
        "code": values.get(COURSE_CODE) or None,
        "credits": values.get(COURSE_CREDITS) or None,
    }


def _save_course(store: Store, context: Context, group: Group, values: dict[str, str | None]) -> None:
    """Update the hierarchy's course, or create it (an Unspecified hierarchy just became a Course)."""
    if group.course is not None:
        store.update_course(group.course.id, values)
    else:
        store.insert_course(
            {**values, "group_id": group.id, "sync_id": group.sync_id, "created_at": context.now}
        )


def existing_group(store: Store, key: str | None, *, role: str = "group") -> Group:
    group = store.group_by_key(key) if key else None
    if group is None:
        reject(CodeMinor.UNKNOWNOBJECT, f"The 'sourcedId' '{key or ''}' of the {role} does not exist.")
    return group


def delete_group(store: Store, context: Context, key: str | None) -> Status:
    """Delete the hierarchy and its descendants with their memberships; disconnect their courses."""
    group = existing_group(store, key)
    subtree = store.subtree_ids(group.id)
    store.delete_memberships_in_groups(subtree)
    store.disconnect_courses(subtree, context.now)
    store.delete_groups(subtree)
    return Status.success()
