"""Microsoft School Data Sync target: SDS v2.1 CSV sets in a folder, optionally uploaded over SFTP
(docs/targets/sds.md).

Layout, pure first: :mod:`.mapping` turns the published roster into the seven files' rows (and one change
into its preview row); :mod:`.settings` is the documented settings model; :mod:`.sftp` is the only module
that talks to the network; :mod:`.target` stages, writes and publishes; :mod:`.reader` is ``read()``, the
mirror of what was published.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from koppel.connectors import ConnectorContext, TargetKind
from koppel.model.change import Change
from koppel.targets.base import Payload
from koppel.targets.sds.mapping import preview_change
from koppel.targets.sds.settings import SdsSettings
from koppel.targets.sds.sftp import SftpUploader
from koppel.targets.sds.target import ACTIONS, SdsTarget, mapping_config

__all__ = ["KIND", "SdsSettings", "SdsTarget", "factory", "preview"]


def factory(name: str, settings: SdsSettings | Mapping[str, Any], ctx: ConnectorContext) -> SdsTarget:
    """Build the target ``name``; the SFTP password or key passphrase is resolved here, once."""
    if not isinstance(settings, SdsSettings):
        settings = SdsSettings.model_validate(dict(settings))
    uploader = None
    sftp = settings.sftp
    if sftp is not None:
        where = f"targets.{name}.sftp"
        password_ref, passphrase_ref = sftp.password_ref(), sftp.passphrase_ref()
        uploader = SftpUploader(
            sftp,
            password=ctx.secret(password_ref, setting=f"{where}.password") if password_ref else None,
            passphrase=ctx.secret(passphrase_ref, setting=f"{where}.passphrase") if passphrase_ref else None,
            known_hosts=ctx.path(sftp.known_hosts) if sftp.known_hosts else None,
            private_key=ctx.path(sftp.private_key_file) if sftp.private_key_file else None,
        )
    return SdsTarget(name, settings, folder=ctx.path(settings.folder), uploader=uploader)


def preview(settings: Any, changes: Sequence[Change]) -> list[Payload]:
    """``TargetKind.preview``: the CSV row each change puts in (or takes out of) the published set. Needs no
    secret and opens no connection."""
    if not isinstance(settings, SdsSettings):
        settings = SdsSettings.model_validate(dict(settings))
    config = mapping_config(settings)
    return [payload for change in changes for payload in preview_change(change, config)]


KIND = TargetKind(
    kind="sds",
    summary="Microsoft School Data Sync v2.1 CSV files (Teams): a folder per school year, optionally uploaded over SFTP",
    settings=SdsSettings,
    factory=factory,
    actions=ACTIONS,
    preview=preview,
)
