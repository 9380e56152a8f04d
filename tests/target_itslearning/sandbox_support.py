"""Helpers for tests against the itslearning sandbox: the site root, and a target pointed at it."""

from __future__ import annotations

from typing import Any

from koppel.connectors import ConnectorContext
from koppel.sandbox.itslearning import SandboxServer
from koppel.targets.itslearning import ItslearningTarget, factory
from koppel.targets.itslearning.client import ImsClient
from koppel.targets.itslearning.settings import ItslearningSettings, resolve_endpoints
from koppel.targets.itslearning.values import CodeMajor, Credentials, ImsGroup, RequestHeader

from .builders import create_groups

SITE_ROOT = "ROOT"


def settings_for(server: SandboxServer, **overrides: Any) -> dict[str, Any]:
    return {
        "url": server.url + "/WCFServiceLibrary",
        "username": "koppel",
        "password": "sandbox",
        "site_root": SITE_ROOT,
        **overrides,
    }


def target_for(server: SandboxServer, **overrides: Any) -> ItslearningTarget:
    return factory("itsl", settings_for(server, **overrides), ConnectorContext(tenant="t", env={}))


def make_site_root(server: SandboxServer) -> None:
    """Give the site root its syncId, as an itslearning administrator does before the first run.

    koppel never creates the Site itself; this setup step sends one createGroups of type Site.
    """
    endpoints = resolve_endpoints(ItslearningSettings.model_validate(settings_for(server)))
    header = RequestHeader("setup", Credentials("koppel", "sandbox"))
    request = create_groups([(SITE_ROOT, ImsGroup(type="Site", name="Site"))], header=header)
    with ImsClient(endpoints) as client:
        (status,) = client.send(request).statuses
    assert status.code_major is CodeMajor.SUCCESS, status
