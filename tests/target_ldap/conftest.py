"""Fixtures: one real slapd per test session (per xdist worker), a fresh base DN per test, and targets on it.

Without slapd the tests are skipped — unless KOPPEL_REQUIRE_SERVICES=1 (CI), where that is a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from koppel.connectors import ConnectorContext
from koppel.targets.ldap import LdapTarget, factory
from koppel.targets.ldap.settings import LdapSettings
from tests.conftest import need

from .slapd import ADMIN_DN, ADMIN_PASSWORD, Slapd, slapd_binary

PASSWORD_ENV = "KOPPEL_TEST_LDAP_PASSWORD"


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    if slapd_binary() is None:
        need("slapd is not installed (apt-get install slapd ldap-utils)")
    server = Slapd(tmp_path_factory.mktemp("slapd")).start()
    yield server
    server.stop()


@pytest.fixture
def base_dn(slapd: Slapd) -> str:
    return slapd.new_base()


def ldap_settings(slapd: Slapd, base_dn: str, **extra: Any) -> LdapSettings:
    values: dict[str, Any] = {"url": slapd.url, "bind_dn": ADMIN_DN, "password_env": PASSWORD_ENV,
                              "base_dn": base_dn, **extra}
    return LdapSettings.model_validate(values)


@pytest.fixture
def make_target(slapd: Slapd, base_dn: str, tmp_path: Path) -> Iterator[Callable[..., LdapTarget]]:
    made: list[LdapTarget] = []

    def make(**extra: Any) -> LdapTarget:
        extra.setdefault("password_report_dir", str(tmp_path / "reports"))
        settings = ldap_settings(slapd, extra.pop("base_dn", base_dn), **extra)
        ctx = ConnectorContext(tenant="test", base_dir=tmp_path, env={PASSWORD_ENV: ADMIN_PASSWORD})
        target = factory("ldap", settings, ctx)
        made.append(target)
        return target

    yield make
    for target in made:
        target.close()
