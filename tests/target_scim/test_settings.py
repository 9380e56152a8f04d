"""The SCIM target's settings: one token source, TLS on by default, no token over plain HTTP to another host,
and the registry entry that `koppel connectors describe scim` reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from koppel.connectors import ConnectorContext, load_target_kind
from koppel.errors import ConfigError
from koppel.targets.scim import ScimSettings, factory


def test_defaults_verify_tls_and_take_the_url_without_a_trailing_slash():
    settings = ScimSettings(url="https://app.example.com/scim/v2/", token_env="SCIM_TOKEN")
    assert settings.verify_tls and settings.url == "https://app.example.com/scim/v2"
    assert settings.token_ref().describe() == "env:SCIM_TOKEN"


@pytest.mark.parametrize("settings, problem", [
    ({"url": "http://app.example.com/scim/v2", "token_env": "T"}, "plain HTTP"),
    ({"url": "ftp://x/scim", "token_env": "T"}, "not an http"),
    ({"url": "https://app.example.com/scim/v2"}, "exactly one of token_env, token_file or token"),
    ({"url": "https://app.example.com/scim/v2", "token_env": "T", "token_file": "/t"}, "got token_env, token_file"),
    ({"url": "https://app.example.com/scim/v2", "token_env": "T", "archive_name": "{naam}"}, "only {name}"),
    ({"url": "https://app.example.com/scim/v2", "token_env": "T", "user_types": {"staff": " "}}, "empty userType"),
])
def test_bad_settings_say_what_is_wrong(settings, problem):
    with pytest.raises(ValidationError, match=problem):
        ScimSettings.model_validate(settings)


def test_the_token_never_shows_and_a_missing_one_names_the_setting(tmp_path):
    settings = ScimSettings(url="http://127.0.0.1:9/v2", token="s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in settings.token_ref().describe()
    with pytest.raises(ConfigError, match=r"targets.apps.token.*SCIM_TOKEN is not set"):
        factory("apps", {"url": "http://127.0.0.1:9/v2", "token_env": "SCIM_TOKEN"},
                ConnectorContext(tenant="t", base_dir=tmp_path, env={}))


def test_the_kind_is_registered_with_its_settings_and_actions():
    kind = load_target_kind("scim")
    assert kind.settings is ScimSettings and kind.preview is not None and kind.mandatory_fields == {}
    assert ("membership", "create") in {(k.value, a.value) for k, a in kind.actions}
