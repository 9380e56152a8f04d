"""SCIM target: a SCIM 2.0 client (RFC 7643/7644) for applications provisioned over SCIM (docs/targets/scim.md).

Layout (sans-I/O, STYLE §3), pure first: :mod:`.mapping` builds the requests with `scim2-models` and reads
the answers; :mod:`.preview` shows them for ``koppel plan --show-payloads``. Then :mod:`.client`, the one
module that talks HTTP; :mod:`.directory` (sync key → SCIM id), :mod:`.session` (what the operations share:
PATCH, or GET + PUT with If-Match and 412), :mod:`.users` and :mod:`.groups` (the operations), and
:mod:`.target` that puts them together, with :mod:`.reader` (reconciliation) and :mod:`.preflight`
(``koppel check``); :mod:`.settings` is the documented settings model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from koppel.connectors import ConnectorContext, TargetKind
from koppel.targets.scim.client import ScimClient
from koppel.targets.scim.mapping import MANDATORY_FIELDS
from koppel.targets.scim.preview import preview
from koppel.targets.scim.settings import ScimSettings
from koppel.targets.scim.target import ACTIONS, ScimTarget

__all__ = ["KIND", "ScimSettings", "ScimTarget", "factory"]


def factory(name: str, settings: ScimSettings | Mapping[str, Any], ctx: ConnectorContext) -> ScimTarget:
    """Build the target ``name`` from its settings; the bearer token is resolved here, once."""
    if not isinstance(settings, ScimSettings):
        settings = ScimSettings.model_validate(dict(settings))
    token = ctx.secret(settings.token_ref(), setting=f"targets.{name}.token")
    client = ScimClient(settings.url, token, timeout_s=settings.timeout_s, verify_tls=settings.verify_tls,
                        max_connections=settings.max_operations_in_flight, read_retry=ctx.retry)
    return ScimTarget(name, settings, client=client)


KIND = TargetKind(
    kind="scim",
    summary="SCIM 2.0 (RFC 7643/7644): users, and schools, klassen and courses as groups with their members",
    settings=ScimSettings,
    factory=factory,
    mandatory_fields=MANDATORY_FIELDS,
    actions=ACTIONS,
    preview=preview,
)
