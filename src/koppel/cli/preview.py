"""``koppel plan --show-payloads``: what each change of a plan would send to its target, without secrets.

A target kind that can show its requests registers ``TargetKind.preview(settings, changes)``: the
payloads ``apply`` would send for one batch, built from the target's settings alone — no password is
resolved and no connection is opened, so a plan can be reviewed byte for byte on a machine that could
never reach the platform. Each change is shown as a batch of its own; ``apply`` puts up to the target's
batch size of changes with the same kind and action in one request.

It lives with the command line, not in ``targets/``: it reads the configuration to find the target's kind and
settings, and no target may depend on the configuration (its schema names the rules' settings).
"""

from __future__ import annotations

from collections.abc import Iterator

from koppel.config import Config
from koppel.connectors import load_target_kind
from koppel.model.change import Change
from koppel.plan.model import Plan
from koppel.plan.render import SYMBOL
from koppel.targets.base import PayloadPreview
from koppel.textsafe import printable

__all__ = ["render_payloads"]


def render_payloads(config: Config, plan: Plan, *, limit: int | None = 50) -> str:
    """The payloads of ``plan``'s first ``limit`` changes (None = all) as text, for the terminal."""
    target = config.tenant(plan.tenant).targets[plan.target]
    kind = load_target_kind(target.kind)
    preview: PayloadPreview | None = kind.preview
    if preview is None:
        return f"\nPayloads: a target of kind {target.kind} cannot show them.\n"
    if not plan.changes:
        return ""
    lines = [
        "",
        f"Payloads for {target.name} ({target.kind}), one change at a time, without credentials:",
    ]
    lines.extend(_lines(plan, preview, target.settings, limit))
    return "\n".join(lines) + "\n"


def _lines(plan: Plan, preview: PayloadPreview, settings: object, limit: int | None) -> Iterator[str]:
    shown = plan.changes if limit is None else plan.changes[:limit]
    for change in shown:
        yield ""
        yield f"{SYMBOL[change.action]} {change.action.value} {change.kind.value} {printable(_what(change))}"
        payloads = preview(settings, [change])
        if not payloads:
            yield "  (nothing is sent for this change: `koppel apply` reports it as failed, with the reason)"
        for payload in payloads:
            yield f"  {printable(payload.title)}"
            yield from (f"    {printable(line)}" for line in payload.body.splitlines())
    if len(shown) < len(plan.changes):
        yield ""
        yield f"… and the payloads of {len(plan.changes) - len(shown):,} more changes (use --all)"


def _what(change: Change) -> str:
    return f"{change.label} ({change.key})" if change.label else change.key
