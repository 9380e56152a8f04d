"""itslearning target: IMS Enterprise Services v1.0 over SOAP 1.1 (docs/targets/itslearning.md).

Layout (sans-I/O, STYLE §3), pure first: :mod:`.values` names what travels, :mod:`.requests` builds
the SOAP requests and :mod:`.responses` reads the answers; :mod:`.mapping` turns koppel changes into IMS
objects and statuses into item results, :mod:`.batches` a batch of changes into requests. Then
:mod:`.client`, the one module that talks HTTP; :mod:`.target` puts them together, with :mod:`.reader`
(reconciliation), :mod:`.discover` (takeover) and :mod:`.preflight` (``koppel check``) for the reads;
:mod:`.settings` is the documented settings model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from koppel.connectors import ConnectorContext, TargetKind
from koppel.targets.itslearning.batches import OPERATIONS, preview
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.mapping import MANDATORY_FIELDS
from koppel.targets.itslearning.settings import ItslearningSettings, resolve_endpoints
from koppel.targets.itslearning.target import ItslearningTarget
from koppel.targets.itslearning.values import Credentials

__all__ = ["KIND", "ItslearningSettings", "ItslearningTarget", "factory"]


def factory(
    name: str, settings: ItslearningSettings | Mapping[str, Any], ctx: ConnectorContext
) -> ItslearningTarget:
    """Build the target ``name`` from its settings; the password is resolved here, once."""
    if not isinstance(settings, ItslearningSettings):
        settings = ItslearningSettings.model_validate(dict(settings))
    password = ctx.secret(settings.password_ref(), setting=f"targets.{name}.password")
    client = ImsClient(
        resolve_endpoints(settings),
        timeout_s=settings.timeout_s,
        verify_tls=settings.verify_tls,
        max_connections=settings.max_operations_in_flight,
        read_retry=ctx.retry,
    )
    return ItslearningTarget(
        name, settings, client=client, credentials=Credentials(settings.username, password)
    )


KIND = TargetKind(
    kind="itslearning",
    summary="itslearning over IMS Enterprise Services v1.0 (SOAP): persons, hierarchies, courses, members",
    settings=ItslearningSettings,
    factory=factory,
    mandatory_fields=MANDATORY_FIELDS,
    actions=frozenset(OPERATIONS),
    preview=preview,
)
