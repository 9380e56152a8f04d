"""`koppel connectors describe`: the settings of a kind, printed from the same pydantic models that validate them."""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from koppel.connectors import SOURCE_KINDS, TARGET_KINDS, load_source_kind, load_target_kind
from koppel.errors import ConfigError


def describe_kind(kind: str) -> dict[str, Any]:
    if kind in SOURCE_KINDS:
        info = load_source_kind(kind)
        table = f"tenants.<id>.sources.<name>"
        return {"role": "source", "kind": kind, "summary": info.summary,
                "sections": _sections(info.settings, table, extra={"kind": kind})}
    if kind in TARGET_KINDS:
        from koppel.config import PolicySettings, RetrySettings, ScheduleSettings
        from koppel.rules.settings import RulesSettings

        info = load_target_kind(kind)
        table = "tenants.<id>.targets.<name>"
        sections = _sections(info.settings, table, extra={"kind": kind})
        sections += _sections(RulesSettings, table + ".rules")
        sections += _sections(PolicySettings, table + ".policy")
        sections += _sections(RetrySettings, table + ".retry")
        sections += _sections(ScheduleSettings, table + ".schedule")
        return {"role": "target", "kind": kind, "summary": info.summary, "sections": sections,
                "mandatory_fields": {k: sorted(v) for k, v in info.mandatory_fields.items()}}
    known = ", ".join(sorted(set(SOURCE_KINDS) | set(TARGET_KINDS)))
    raise ConfigError(f"unknown connector kind {kind!r} (known: {known})")


def _sections(model: type[BaseModel], table: str, extra: dict[str, str] | None = None,
              array: bool = False) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    nested: list[dict[str, Any]] = []
    if extra:
        for name, value in extra.items():
            fields.append({"name": name, "type": "string", "required": True, "default": None,
                           "description": f"must be {value!r}"})
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested += _sections(annotation, f"{table}.{name}")
            continue
        item = _list_item_model(annotation)
        if item is not None:
            nested += _sections(item, f"{table}.{name}", array=True)
        default = info.default
        if default is PydanticUndefined and info.default_factory is not None:
            default = info.default_factory()
        required = info.is_required()
        fields.append({
            "name": name,
            "type": _type_name(annotation),
            "required": required,
            "default": None if required else _plain(default),
            "description": info.description or "",
        })
    return [{"table": table, "array": array, "fields": fields}] + nested


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a ``list[Model]`` (or ``list[Model] | None``) field, else None."""
    candidates = [annotation, *get_args(annotation)] if get_origin(annotation) in (Union, UnionType) else [annotation]
    for candidate in candidates:
        if get_origin(candidate) in (list, tuple):
            args = get_args(candidate)
            if args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
                return args[0]
    return None


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "None")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "value"):
        return value.value
    return value
