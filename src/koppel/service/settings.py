"""The ``[service]`` section of koppel.toml: how `koppel serve` listens, logs people in and notifies.

``koppel.config`` keeps ``[service]`` as raw data so that the batch commands never depend on the
service's settings; `koppel serve` validates it here, with the same file-and-line problem reports as
the rest of the configuration, before it starts anything. Secrets (the SMTP password, the webhook's
signing secret) follow koppel's rule: from the environment or a secret file, never shown.

::

    [service]
    base_url = "https://koppel.school.nl"     # links in notifications; https also makes cookies Secure
    language = "nl"                           # nl | en: the dashboard's default and the notifications'

    [service.email]
    host = "smtp.school.nl"
    from = "koppel@school.nl"
    to = ["ict@school.nl"]
    user = "koppel"
    password_env = "KOPPEL_SMTP_PASSWORD"

    [service.webhook]
    url = "https://hooks.example.nl/koppel"
    secret_env = "KOPPEL_WEBHOOK_SECRET"      # signs the body: X-Koppel-Signature: sha256=<hmac>
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from koppel.config import Config, SettingLocator, validate_section
from koppel.connectors import ConnectorContext, SecretRef
from koppel.errors import ConfigError, ConfigProblem

__all__ = [
    "CookieSecurity",
    "EmailSettings",
    "Language",
    "LoginSettings",
    "MetricsSettings",
    "ServiceSettings",
    "WebhookSettings",
    "load_service_settings",
]


class Language(StrEnum):
    NL = "nl"
    EN = "en"


class CookieSecurity(StrEnum):
    """When the session cookie carries the Secure flag."""

    AUTO = "auto"  # when base_url is https or the request came in over https (also behind a proxy)
    ALWAYS = "always"
    NEVER = "never"  # only for a plain-http test set-up on localhost


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _secret(env: str | None, file: str | None, value: SecretStr | None) -> SecretRef:
    return SecretRef(env=env, file=file, value=value.get_secret_value() if value else None)


class EmailSettings(_Strict):
    """E-mail over SMTP when a run fails or a plan is held."""

    host: str = Field(description="SMTP server.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port: 587 with STARTTLS, 465 with ssl = true.")
    sender: str = Field(alias="from", description="The From address.")
    to: list[str] = Field(min_length=1, description="Who receives the notices.")
    user: str | None = Field(None, description="SMTP user name, when the server wants a login.")
    password_env: str | None = Field(None, description="Environment variable holding the SMTP password.")
    password_file: str | None = Field(None, description="File holding the SMTP password.")
    password: SecretStr | None = Field(None, description="The password itself; prefer password_env.")
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (certificate verified).")
    ssl: bool = Field(False, description="Connect with TLS from the start (port 465) instead of STARTTLS.")
    timeout_s: float = Field(20.0, gt=0, description="Seconds before giving up on the server.")

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if "@" not in a]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EmailSettings:
        given = [n for n in ("password_env", "password_file", "password") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError(f"give only one of password_env, password_file or password (got {', '.join(given)})")
        if given and not self.user:
            raise ValueError("a password needs a user")
        return self

    @property
    def use_starttls(self) -> bool:
        return self.starttls and not self.ssl

    @property
    def password_ref(self) -> SecretRef:
        return _secret(self.password_env, self.password_file, self.password)


class WebhookSettings(_Strict):
    """A JSON POST when a run fails or a plan is held; signed with HMAC-SHA256 when a secret is set."""

    url: str = Field(description="Where to POST the notice (http or https).")
    secret_env: str | None = Field(None, description="Environment variable holding the signing secret.")
    secret_file: str | None = Field(None, description="File holding the signing secret.")
    secret: SecretStr | None = Field(None, description="The signing secret itself; prefer secret_env.")
    timeout_s: float = Field(10.0, gt=0, description="Seconds before giving up on the receiver.")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("the webhook url must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookSettings:
        given = [n for n in ("secret_env", "secret_file", "secret") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError(f"give only one of secret_env, secret_file or secret (got {', '.join(given)})")
        return self

    @property
    def secret_ref(self) -> SecretRef | None:
        ref = _secret(self.secret_env, self.secret_file, self.secret)
        return ref if ref.configured else None


class LoginSettings(_Strict):
    """Slowing down password guessing: per user name and per client address."""

    max_failures: int = Field(5, ge=1, description="Wrong passwords in a row before logins are slowed down.")
    lockout_s: int = Field(30, ge=1, description="The first wait after max_failures; it doubles with every "
                           "further wrong password.")
    lockout_max_s: int = Field(900, ge=1, description="The longest wait.")
    session_hours: float = Field(8.0, gt=0, le=24 * 30, description="A session ends after this many hours "
                                 "without a request.")
    session_max_hours: float = Field(12.0, gt=0, le=24 * 30, description="A session ends this many hours after "
                                     "logging in, however active it is (the shorter of the two limits wins).")


class MetricsSettings(_Strict):
    """Who may read /metrics (Prometheus text; it names tenants and targets). See docs/operations.md."""

    access: Literal["local", "token", "open", "off"] = Field("local", description="local: only clients on "
                                                               "this machine that did not come through a proxy; "
                                                               "token: a bearer token (token_env or token_file); "
                                                               "open: anyone who reaches the port; off: 404.")
    token_env: str | None = Field(None, description="Environment variable holding the bearer token (access = "
                                  "\"token\").")
    token_file: str | None = Field(None, description="File holding the bearer token (access = \"token\").")

    @model_validator(mode="after")
    def _token(self) -> MetricsSettings:
        given = [n for n in ("token_env", "token_file") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError("give only one of token_env or token_file")
        if self.access == "token" and not given:
            raise ValueError('access = "token" needs token_env or token_file')
        if self.access != "token" and given:
            raise ValueError(f'{given[0]} is only read with access = "token"')
        return self

    @property
    def token_ref(self) -> SecretRef:
        return SecretRef(env=self.token_env, file=self.token_file, value=None)


class ServiceSettings(_Strict):
    """`koppel serve`: the dashboard, the API, the scheduler and the notifications."""

    base_url: str | None = Field(None, description="The dashboard's address as people reach it, e.g. "
                                 "https://koppel.school.nl; used for links in notifications.")
    host: str = Field("127.0.0.1", description="Address to listen on (--host wins). Put a TLS-terminating "
                      "proxy in front when it is not localhost.")
    port: int = Field(8480, ge=1, le=65535, description="Port to listen on (--port wins).")
    language: Language = Field(Language.NL, description="Default language of the dashboard and the notices.")
    timezone: str = Field("Europe/Amsterdam", description="Time zone in which the dashboard shows times.")
    secure_cookies: CookieSecurity = Field(CookieSecurity.AUTO, description="Secure flag on the session cookie.")
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"], description="Proxies whose "
                                       "X-Forwarded-For and X-Forwarded-Proto are believed (for the client address "
                                       "that login throttling counts, and for https detection).")
    workers: int = Field(1, ge=1, le=32, description="Runs at the same time (always for different targets).")
    poll_s: float = Field(2.0, gt=0, le=60, description="How often the scheduler looks for queued runs.")
    engine: Literal["in-process", "procrastinate"] = Field("in-process", description="Who runs the queued "
                                                            "runs: in-process (koppel serve's own workers) or "
                                                            "procrastinate (`koppel worker` processes; needs "
                                                            "PostgreSQL as the state, see docs/workers.md).")
    plan_cache: int = Field(3, ge=1, le=50, description="Plans kept parsed in memory for the plan pages.")
    login: LoginSettings = Field(default_factory=LoginSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    def link(self, path: str) -> str:
        """An absolute link for notifications (a relative one when base_url is not set)."""
        return f"{self.base_url or ''}{path}"


def load_service_settings(config: Config) -> ServiceSettings:
    """Validate ``config.service``; raise a ConfigError listing every problem with its line."""
    problems: list[ConfigProblem] = []
    text = config.path.read_text(encoding="utf-8") if config.path and config.path.exists() else ""
    locate = SettingLocator(text)
    fname = str(config.path) if config.path else "<config>"

    def problem(message: str, loc: tuple) -> None:
        setting = ".".join(str(p) for p in loc)
        problems.append(ConfigProblem(message, setting=setting or None, file=fname, line=locate(loc)))

    settings = validate_section(ServiceSettings, dict(config.service), ("service",), problem)
    if problems or settings is None:
        raise ConfigError(problems or [ConfigProblem("invalid [service] section", setting="service")])
    return settings


def resolve_secret(ref: SecretRef, *, config: Config, env: dict[str, str] | Any, setting: str) -> str:
    """Read a notification secret (raises a ConfigError naming the setting, never the value)."""
    ctx = ConnectorContext(tenant="service", base_dir=config.base_dir if config.path else Path.cwd(), env=env)
    return ctx.secret(ref, setting=setting)
