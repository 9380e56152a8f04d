"""What every dashboard route shares: who is asking, in which language, over which scheme — and how
a page is rendered.

* **Sessions**: the ``koppel_session`` cookie (HttpOnly, SameSite=Lax, Secure over https or when
  configured; Max-Age the session's absolute lifetime) names a server-side session
  (:mod:`koppel.service.accounts`). The login form's and the language cookie carry the same flags. A page request without
  a live session is sent to the login page; an API request without a valid bearer token gets 401.
* **CSRF**: every form carries the session's CSRF token (the synchronizer-token pattern); a form
  post without it, or with another, is refused with 403. The login form, which has no session yet,
  uses a double-submit token: a random value in a short-lived cookie and in the form.
* **Roles**: a session carries its user's grants (:class:`koppel.service.accounts.Access`), an API
  call its token's (:func:`api_caller`); every route checks the role it needs for the tenant it touches.
  A caller who may not see a tenant gets the same 404 as for one that does not exist; one who may see
  it but not act gets 403 (:class:`Forbidden`).
* **Client address**: the socket's peer, or — only when that peer is a trusted proxy — the nearest
  untrusted address in ``X-Forwarded-For``. Login throttling counts per this address.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import tomlkit
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates
from tomlkit.exceptions import TOMLKitError

from koppel.config import MASK, SECRET_WORDS, mask_url
from koppel.service.accounts import Access, Role, Session
from koppel.service.i18n import PLURALS, Translator
from koppel.service.runtime import Service
from koppel.service.settings import CookieSecurity, Language

__all__ = [
    "KEY",
    "LANG_COOKIE",
    "LOGIN_COOKIE",
    "NAME",
    "PLAN_ID",
    "SESSION_COOKIE",
    "TEXT",
    "Caller",
    "ConfigText",
    "CsrfFailed",
    "Forbidden",
    "LoginRequired",
    "Page",
    "api_actor",
    "api_caller",
    "check_csrf",
    "client_address",
    "code_spans",
    "delete_cookie",
    "format_when",
    "is_https",
    "masked_config",
    "page_session",
    "safe_next",
    "service_of",
    "set_cookie",
    "templates",
]

# What path and query parameters may look like: a wrong one is a 422, never a database error.
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # tenant and target names, as koppel.config allows them
PLAN_ID = r"^[0-9a-f]{4,32}$"  # a plan id or a unique prefix of one
KEY = r"^[^\x00-\x1f\x7f]{1,512}$"  # a sync key
TEXT = r"^[^\x00-\x1f\x7f]*$"  # search text

SESSION_COOKIE = "koppel_session"
LOGIN_COOKIE = "koppel_login"
LANG_COOKIE = "koppel_lang"

templates = Jinja2Templates(env=Environment(
    loader=FileSystemLoader(str(resources.files("koppel.service") / "templates")),
    autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined,
))


class LoginRequired(Exception):
    """A page was asked for without a live session: redirect to the login page."""

    def __init__(self, next_path: str):
        self.next_path = next_path


class CsrfFailed(Exception):
    """A form post without the right CSRF token: 403."""


def forbidden_detail(role: Role, tenant: str) -> str:
    return f"this needs the role {role.value} (or higher) on tenant {tenant!r}; ask an admin (koppel user grant)"


class Forbidden(HTTPException):
    """The caller may see the tenant but lacks the role an action needs: 403 (JSON ``detail`` on the API)."""

    def __init__(self, role: Role, tenant: str):
        super().__init__(status_code=403, detail=forbidden_detail(role, tenant))
        self.role = role
        self.tenant = tenant


@dataclass(frozen=True)
class Caller:
    """Who calls the API: the name actions are recorded under, and what they may do."""

    name: str
    access: Access

    def require(self, role: Role, tenant: str) -> None:
        """403 unless the caller has ``role`` on ``tenant`` (check that it may *see* the tenant first: 404)."""
        if not self.access.may(role, tenant):
            raise Forbidden(role, tenant)


def service_of(request: Request) -> Service:
    return request.app.state.service


# -- who and from where ----------------------------------------------------------------------------


def client_address(request: Request) -> str:
    settings = service_of(request).settings
    peer = request.client.host if request.client else "unknown"
    if peer not in settings.trusted_proxies:
        return peer
    forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
    for address in reversed(forwarded):
        if address not in settings.trusted_proxies:
            return address
    return peer


def is_https(request: Request) -> bool:
    settings = service_of(request).settings
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    return peer in settings.trusted_proxies and request.headers.get("x-forwarded-proto", "").lower() == "https"


def _secure(request: Request) -> bool:
    settings = service_of(request).settings
    if settings.secure_cookies is CookieSecurity.ALWAYS:
        return True
    if settings.secure_cookies is CookieSecurity.NEVER:
        return False
    return is_https(request) or (settings.base_url or "").startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None,
               path: str = "/") -> None:
    """Every cookie koppel sets: HttpOnly, SameSite=Lax, and Secure by the same rule as the session's."""
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True, samesite="lax",
                        secure=_secure(request))


def delete_cookie(request: Request, response: Response, name: str, *, path: str = "/") -> None:
    """Remove a cookie with the same flags it was set with."""
    response.delete_cookie(name, path=path, httponly=True, samesite="lax", secure=_secure(request))


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


# -- authentication ----------------------------------------------------------------------------------


def page_session(request: Request) -> Session:
    """The logged-in person's session, or a redirect to the login page."""
    session = service_of(request).accounts.session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return session


_bearer = HTTPBearer(auto_error=False, description="A token from `koppel token create NAME --role ROLE`.")


def api_caller(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    """Who calls: the token (recorded as ``api:<token name>``) with its grants, or 401.

    A logged-in dashboard user may also *read* the API with the session cookie (the pages' "the same
    data as JSON" links), with the user's grants; writing through the API still needs a token, since a
    cookie-borne POST is what CSRF is made of and the API's forms carry no CSRF token."""
    service = service_of(request)
    found = service.accounts.token_access(credentials.credentials if credentials else None)
    if found is None and request.method in ("GET", "HEAD"):
        session = service.accounts.session(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            return Caller(session.user, session.access)
    if found is None:
        raise HTTPException(status_code=401, detail="a valid bearer token is required (koppel token create NAME --role ROLE)",
                            headers={"WWW-Authenticate": 'Bearer realm="koppel"'})
    return Caller(f"api:{found[0]}", found[1])


def api_actor(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The name that API actions are recorded under (``api:<token name>``), or 401 (see :func:`api_caller`)."""
    return api_caller(request, credentials).name


def check_csrf(session: Session, token: str | None) -> None:
    if not token or not hmac.compare_digest(token.encode(), session.csrf.encode()):
        raise CsrfFailed()


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


# -- rendering -----------------------------------------------------------------------------------------


def language(request: Request) -> Language:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in (Language.NL.value, Language.EN.value):
        return Language(chosen)
    return service_of(request).settings.language


@dataclass(frozen=True)
class Page:
    """The frame around a page: who is logged in, the language, the CSRF token and the JSON twin."""

    request: Request
    session: Session | None

    @property
    def tr(self) -> Translator:
        return Translator(language(self.request), service_of(self.request).settings.timezone)

    def may(self, role: str | Role, tenant: str) -> bool:
        """Whether the logged-in user has ``role`` on ``tenant`` (templates show only the buttons they may use)."""
        return self.session is not None and self.session.access.may(Role(role), tenant)

    def render(self, template: str, *, status_code: int = 200, json_url: str | None = None, **context: Any) -> HTMLResponse:
        tr = self.tr
        here = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        return templates.TemplateResponse(self.request, template, {
            "t": tr, "word": tr.word, "lang": tr.language.value, "user": self.session.user if self.session else None,
            "csrf": self.session.csrf if self.session else None, "json_url": json_url, "here": quote(here, safe="/"),
            "when": tr.when, "num": tr.num, "plural": tr.plural, "say": tr.say, "check": tr.check, "date": tr.date,
            "path": self.request.url.path, "refresh": None, "notice": None, "may": self.may, **context,
        }, status_code=status_code)


def format_when(stamp: str | None, zone: ZoneInfo, language: Language = Language.NL) -> str:
    """A stored UTC timestamp as local time for people, with its zone: ``5 dec 2026 14:02 CET``."""
    return Translator(language, zone).when(stamp)


def code_spans(text: str) -> Markup:
    """A text with `backticks` (commands, file names) as HTML: the backticked parts in ``<code>``."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: not code spans, show the text as it is
        return Markup(escape(text))
    return Markup("".join(str(escape(p)) if i % 2 == 0 else f"<code>{escape(p)}</code>" for i, p in enumerate(parts)))


templates.env.filters["code"] = code_spans


# -- the configuration file as it is, secrets masked ------------------------------------------------


@dataclass(frozen=True)
class ConfigText:
    """koppel.toml as the file is — comments, order and all — with every secret masked; or why not."""

    text: str | None
    masked: int
    error: str | None = None


def masked_config(path: Path | str | None) -> ConfigText:
    """The configuration file with every value the config layer treats as secret masked the same way
    (:func:`koppel.config.public_view`): a key named like a secret (``password``, ``token``,
    ``client_secret`` …, but not its ``*_env``/``*_file`` pointer), a password or secret parameter in a
    URL, and the path of a webhook URL (chat services carry their secret there)."""
    if path is None:
        return ConfigText(None, 0, "no file")
    try:
        document = tomlkit.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        return ConfigText(None, 0, str(exc))
    masked = _mask_table(document, ())
    lines = []
    for line in tomlkit.dumps(document).splitlines(keepends=True):
        # Comments are free text: a URL with a password or a commented-out secret there is masked too.
        new = _ANY_URL.sub(lambda m: mask_url(m.group(0)), line)
        code, hash_, comment = new.partition("#")
        if hash_:
            comment = _SECRET_ASSIGNMENT.sub(
                lambda m: f"{m.group(1)}{MASK}" if _secret_key(m.group(2)) else m.group(0), comment)
        new = code + hash_ + comment
        masked += new != line
        lines.append(new)
    return ConfigText("".join(lines), masked)


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS) and not lowered.endswith(("_env", "_file"))


def _mask_table(table: Any, path: tuple[str, ...]) -> int:
    count = 0
    for key in list(table.keys()):
        value = table[key]
        if isinstance(value, dict):
            count += _mask_table(value, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    count += _mask_table(item, (*path, key))
                elif _secret_key(key) or _url_with_secret(item):
                    value[i] = MASK if _secret_key(key) else mask_url(item)
                    count += 1
        elif _secret_key(key):
            table[key] = MASK
            count += 1
        elif isinstance(value, str) and key == "url" and path[-1:] == ("webhook",):
            table[key] = _webhook_url(value)
            count += 1
        elif _url_with_secret(value):
            table[key] = mask_url(value)
            count += 1
    return count


def _url_with_secret(value: object) -> bool:
    return isinstance(value, str) and _URL.match(value.strip()) is not None and mask_url(value) != value


def _webhook_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return MASK
    return f"{parts.scheme}://{parts.hostname or ''}{':' + str(parts.port) if parts.port else ''}/{MASK}"


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")  # as koppel.config tells a URL
_ANY_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'#]+")
_SECRET_ASSIGNMENT = re.compile(r"""((\b[A-Za-z0-9_.-]+)\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)""")
templates.env.globals["masked_config"] = masked_config
templates.env.globals["plurals"] = PLURALS
