"""Settings: validation, endpoint resolution, secrets that never show, the registry entry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from koppel.connectors import ConnectorContext, load_target_kind
from koppel.errors import ConfigError
from koppel.model.change import Action
from koppel.model.desired import ObjectKind
from koppel.targets.itslearning import KIND, ItslearningTarget
from koppel.targets.itslearning.settings import ItslearningSettings, resolve_endpoints
from koppel.targets.itslearning.values import Service

PORT = "https://enterprise.itslearning.com/WCFServiceLibrary/ImsEnterpriseServicesPort.svc"
BASE = "https://enterprise.itslearning.com/WCFServiceLibrary"


def settings(**overrides) -> ItslearningSettings:
    values = {
        "url": PORT,
        "username": "koppel",
        "password_env": "ITSL_PASSWORD",
        "site_root": "ROOT",
        **overrides,
    }
    return ItslearningSettings.model_validate(values)


def test_defaults():
    s = settings()
    assert (s.batch_size, s.max_operations_in_flight, s.adaptive) == (50, 9, True)
    assert (s.verify_tls, s.send_guardian_relationships) == (True, False)
    assert s.endpoints.value == "combined"


def test_the_url_the_admin_page_gives_is_the_url_koppel_posts_to():
    assert set(resolve_endpoints(settings()).values()) == {PORT}


@pytest.mark.parametrize("bare", ["https://enterprise.itslearning.com", "https://enterprise.itslearning.com/",
                                  "https://a1enterprise.itslearning.com"])
def test_a_bare_enterprise_host_is_completed_to_the_service_path(bare: str):
    host = bare.rstrip("/")
    assert settings(url=bare).url == host + "/WCFServiceLibrary/ImsEnterpriseServicesPort.svc"


def test_a_site_address_is_refused_with_what_to_paste():
    with pytest.raises(ValidationError, match=r"not an IMS Enterprise Services endpoint.*Manage IMS Enterprise.*"
                                              r"ImsEnterpriseServicesPort\.svc"):
        settings(url="https://mijnschool.itslearning.com")


def test_the_old_in_flight_setting_says_what_replaced_it():
    with pytest.raises(ValidationError, match="replaced by max_operations_in_flight"):
        settings(in_flight=10)


def test_every_field_is_described():
    for name, field in ItslearningSettings.model_fields.items():
        assert field.description, name


@pytest.mark.parametrize("url", [PORT, BASE, BASE + "/", PORT + "?wsdl"])
def test_per_service_endpoints_come_from_the_directory(url: str):
    assert resolve_endpoints(settings(url=url, endpoints="per-service")) == {
        Service.PERSON: f"{BASE}/PersonManagementServiceSync.svc",
        Service.EXTENDED_PERSON: f"{BASE}/ExtendedPersonManagementServiceSync.svc",
        Service.GROUP: f"{BASE}/GroupManagementServiceSync.svc",
        Service.MEMBERSHIP: f"{BASE}/MembershipManagementServiceSync.svc",
    }


@pytest.mark.parametrize("url", [PORT, BASE])
def test_combined_port(url: str):
    assert set(resolve_endpoints(settings(url=url, endpoints="combined")).values()) == {PORT}


def test_explicit_service_urls_win():
    endpoints = resolve_endpoints(settings(service_urls={"epms": "https://other.example/Ext.svc"}))
    assert endpoints[Service.EXTENDED_PERSON] == "https://other.example/Ext.svc"
    assert endpoints[Service.PERSON] == PORT


def test_plain_http_only_to_this_machine():
    assert settings(url="http://127.0.0.1:8080/ims").url == "http://127.0.0.1:8080/ims"
    assert settings(url="http://localhost/ims").url
    with pytest.raises(ValidationError, match="HTTPS only"):
        settings(url="http://enterprise.itslearning.com/x.svc")
    with pytest.raises(ValidationError, match="not an http"):
        settings(url="ftp://x")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"password_env": None}, "exactly one of password_env, password_file or password"),
        ({"password": "x"}, r"got password_env, password\)"),
        ({"batch_size": 51}, "less than or equal to 50"),
        ({"max_operations_in_flight": 51}, "less than or equal to 50"),
        ({"max_operations_in_flight": 0}, "greater than or equal to 1"),
        ({"site_root": "r" * 65}, "at most 64"),
        ({"colour": "blue"}, "Extra inputs are not permitted"),
        ({"profile_map": {"institution_roles": {"staff": " "}}}, "reset the profile"),
        ({"profile_map": {"membership_roles": {"owner": "Manager"}}}, "membership_roles.owner"),
    ],
)
def test_invalid_settings(overrides, message):
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)


def test_password_never_shows():
    s = settings(password_env=None, password="s3cret-value")
    assert "s3cret-value" not in repr(s) and "s3cret-value" not in str(s)
    ref = s.password_ref()
    assert ref.describe() == "********" and "s3cret-value" not in repr(ref)
    assert settings().password_ref().describe() == "env:ITSL_PASSWORD"


def test_profile_map_overrides_defaults():
    config = settings(
        profile_map={
            "institution_roles": {"staff": "Administrator"},
            "membership_roles": {"guardian": "Guest"},
        }
    ).mapping_config()
    assert config.institution_roles == {"student": "Student", "staff": "Administrator", "guardian": "Carer"}
    assert (
        config.membership_roles["guardian"] == "Guest" and config.membership_roles["teacher"] == "Instructor"
    )


def test_registry_entry_and_factory(tmp_path):
    assert load_target_kind("itslearning") is KIND
    assert KIND.mandatory_fields == {
        "person": frozenset({"given", "family", "role"}),
        "group": frozenset({"type", "parent", "name"}),
        "membership": frozenset({"person", "group", "role"}),
    }
    secret = tmp_path / "itsl"
    secret.write_text("from-file\n")
    ctx = ConnectorContext(tenant="t", base_dir=tmp_path, env={})
    target = KIND.factory(
        "itsl", {"url": PORT, "username": "koppel", "password_file": "itsl", "site_root": "ROOT"}, ctx
    )
    try:
        assert isinstance(target, ItslearningTarget)
        assert (
            target.capabilities.max_batch == 50
            and target.capabilities.max_operations_in_flight == 9
            and target.capabilities.adaptive
            and target.capabilities.can_read
        )
        assert target.capabilities.supports(ObjectKind.GROUP, Action.ARCHIVE)
        assert not target.capabilities.supports(ObjectKind.PERSON, Action.ARCHIVE)
        assert "from-file" not in repr(target)
    finally:
        target.close()


def test_factory_names_a_missing_secret_without_its_value():
    with pytest.raises(ConfigError, match=r"targets\.itsl\.password.*ITSL_PASSWORD is not set"):
        KIND.factory("itsl", settings(), ConnectorContext(tenant="t", env={}))
