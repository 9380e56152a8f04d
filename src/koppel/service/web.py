"""What every dashboard route shares: who is asking, in which language, over which scheme — and how
a page is rendered.

* **Sessions**: the ``koppel_session`` cookie (HttpOnly, SameSite=Lax, Secure over https or when
  configured; Max-Age the session's absolute lifetime) names a server-side session
  (:mod:`koppel.service.accounts`). The login form's and the language cookie carry the same flags. A page request without
  a live session is sent to the login page; an API request without a valid bearer token gets 401.
* **CSRF**: every form carries the session's CSRF token (the synchronizer-token pattern); a form
  post without it, or with another, is refused with 403. The login form, which has no session yet,
  uses a double-submit token: a random value in a short-lived cookie and in the form.
* **Client address**: the socket's peer, or — only when that peer is a trusted proxy — the nearest
  untrusted address in ``X-Forwarded-For``. Login throttling counts per this address.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from koppel.service.accounts import Session
from koppel.service.i18n import Translator
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
    "CsrfFailed",
    "LoginRequired",
    "Page",
    "api_actor",
    "check_csrf",
    "client_address",
    "delete_cookie",
    "format_when",
    "is_https",
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


_bearer = HTTPBearer(auto_error=False, description="A token from `koppel token create NAME`.")


def api_actor(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The name that API actions are recorded under (``api:<token name>``), or 401."""
    name = service_of(request).accounts.token_name(credentials.credentials if credentials else None)
    if name is None:
        raise HTTPException(status_code=401, detail="a valid bearer token is required (koppel token create NAME)",
                            headers={"WWW-Authenticate": 'Bearer realm="koppel"'})
    return f"api:{name}"


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
        return Translator(language(self.request))

    def render(self, template: str, *, status_code: int = 200, json_url: str | None = None, **context: Any) -> HTMLResponse:
        service = service_of(self.request)
        tr = self.tr
        zone = ZoneInfo(service.settings.timezone)
        here = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        return templates.TemplateResponse(self.request, template, {
            "t": tr, "word": tr.word, "lang": tr.language.value, "user": self.session.user if self.session else None,
            "csrf": self.session.csrf if self.session else None, "json_url": json_url, "here": quote(here, safe="/"),
            "when": lambda stamp: format_when(stamp, zone), "path": self.request.url.path, "refresh": None, "notice": None, **context,
        }, status_code=status_code)


def format_when(stamp: str | None, zone: ZoneInfo) -> str:
    """A stored UTC timestamp as local time for people: ``2026-03-02 22:00``."""
    if not stamp:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
