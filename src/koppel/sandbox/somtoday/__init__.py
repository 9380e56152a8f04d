"""A faithful local emulator of Somtoday Connect: the OAuth2 token endpoint and the REST API, on SQLite.

It serves a generated bestuur (``koppel.generator``) as Somtoday Connect would: per instelling a
token (client credentials, ``?organisation=``), per vestiging the leerlingen, medewerkers,
lesgroepen and stamgroepen in the spec's exact JSON form, paged with ``offset``/``amount`` (≤ 200),
for ``peilschooljaar`` HUIDIG (the sandbox's year) and VOLGEND (the generator's next year). It can
withhold fields (veldpermissies) and make bad days on purpose: latency, HTTP 500, a 401 for a good
token, JSON cut off halfway, and tokens that die before the client expects.

It builds the wire form itself from the spec (``shared/specs/somtoday-connect/openapi.json``) and
never imports koppel's Somtoday source, so that a misreading on either side shows up as a failure.

::

    with SandboxServer(SandboxConfig(students=300, seed=7), port=0) as sandbox:
        sandbox.api_url       # http://127.0.0.1:<port>/rest/v1
        sandbox.token_url     # http://127.0.0.1:<port>/oauth2/token
        sandbox.instelling    # the organisation UUID
        sandbox.stats()       # {"counters": {"requests": …, "tokens.issued": …}, …}

What is emulated and what is inference: docs/sources/somtoday.md, "The sandbox".
"""

from .app import create_app
from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, HIDEABLE_FIELDS, SandboxConfig, parse_hidden
from .server import DEFAULT_PORT, SandboxServer, main

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PORT",
    "HIDEABLE_FIELDS",
    "SandboxConfig",
    "SandboxServer",
    "create_app",
    "main",
    "parse_hidden",
]
