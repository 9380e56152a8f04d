"""Who may use the dashboard and the API: users, API tokens, sessions and login throttling.

Kept in the state store (tables from migration 0002) so that a restart, a second `koppel serve`
behind the same PostgreSQL, and the `koppel user` commands all see the same accounts.

* **Passwords** are hashed with argon2id (argon2-cffi's defaults, RFC 9106); a hash made with older
  parameters is replaced at the next successful login. An unknown user name costs the same time
  as a wrong password, so the login page does not tell which names exist.
* **API tokens** are 256 random bits shown once; only their SHA-256 is stored (a slow hash adds
  nothing for a random secret and would make every API call slow). A token is looked up by hash.
* **Sessions** live server-side: the cookie carries a random value, the store its SHA-256, the
  session's CSRF token and its expiry. Logging out deletes the row, so a stolen cookie dies with it.
  A session ends after ``session_hours`` without a request, and ``session_max_hours`` after the
  login however active it is, so a stolen cookie cannot be kept alive for ever.
* **Throttling**: after ``max_failures`` wrong passwords in a row for a user name, or from a client
  address, further attempts for that name or from that address are refused without checking the
  password for a waiting time that starts at ``lockout_s`` and doubles with every further failure,
  up to ``lockout_max_s``. A successful login clears the user's count and the address's. Every
  attempt is counted before its password is checked, in the transaction that checks the limit, so
  parallel attempts get no more password checks than sequential ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from koppel.service import tables as t
from koppel.service.clock import Clock, iso, parse_iso
from koppel.service.settings import LoginSettings
from koppel.state.store import StateStore

__all__ = ["AccountError", "Accounts", "ApiToken", "LoginOutcome", "LoginResult", "Session", "User"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MIN_PASSWORD = 12
TOKEN_PREFIX = "kpl_"


class AccountError(ValueError):
    """A user or token command that cannot be carried out; the message says why."""


class LoginOutcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown user or wrong password: the page does not say which
    THROTTLED = "throttled"


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    wait_s: int = 0  # when throttled: seconds until the next attempt is considered


@dataclass(frozen=True)
class User:
    name: str
    created_at: str
    last_login_at: str | None


@dataclass(frozen=True)
class ApiToken:
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires_at: dt.datetime


def _insert_new(conn, **values):
    """An INSERT of a login_failures row that does nothing when the subject has a row already."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(t.login_failures).values(**values).on_conflict_do_nothing(index_elements=["subject"])


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Accounts:
    """Users, tokens, sessions and throttling on one StateStore, with the service's clock."""

    def __init__(self, store: StateStore, *, clock: Clock, login: LoginSettings | None = None,
                 hasher: PasswordHasher | None = None):
        self.store = store
        self.clock = clock
        self.login_settings = login or LoginSettings()
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    @property
    def _engine(self):
        return self.store.engine

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> User:
        if not _NAME.match(name):
            raise AccountError("a user name has letters, digits, '.', '_', '-' or '@' (at most 100)")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        now = iso(self.clock())
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.users).values(name=name, password_hash=self.hasher.hash(password),
                                                    created_at=now))
        except IntegrityError:
            raise AccountError(f"user {name!r} exists; remove it first to set a new password") from None
        return User(name, now, None)

    def users(self) -> list[User]:
        u = t.users.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(u.name, u.created_at, u.last_login_at).order_by(u.name)).all()
        return [User(r.name, r.created_at, r.last_login_at) for r in rows]

    def remove_user(self, name: str) -> None:
        with self._engine.begin() as conn:
            gone = conn.execute(delete(t.users).where(t.users.c.name == name)).rowcount
            conn.execute(delete(t.sessions).where(t.sessions.c.user_name == name))
        if not gone:
            raise AccountError(f"no user {name!r}")

    # -- logging in ----------------------------------------------------------------------------

    def login(self, name: str, password: str, *, client: str) -> LoginResult:
        """Check a password, honouring and updating the throttle for the name and the address.

        The attempt is counted as a failure *before* the password is checked, in the same transaction
        that checks the limit (see :meth:`_reserve`), so parallel attempts cannot all pass the check
        before any of them is counted; a right password then clears both counts again.
        """
        subjects = (f"user:{name.lower()}", f"addr:{client}")
        wait, refused = self._reserve(subjects)
        if refused:
            return LoginResult(LoginOutcome.THROTTLED, wait)
        if self._verify(name, password):
            self._clear(subjects)
            return LoginResult(LoginOutcome.OK)
        return LoginResult(LoginOutcome.THROTTLED if wait > 0 else LoginOutcome.WRONG, wait)

    def _verify(self, name: str, password: str) -> bool:
        u = t.users.c
        with self._engine.connect() as conn:
            row = conn.execute(select(u.password_hash).where(u.name == name)).first()
        stored = row.password_hash if row else self._dummy_hash
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        if row is None:
            return False
        values = {"last_login_at": iso(self.clock())}
        if self.hasher.check_needs_rehash(stored):
            values["password_hash"] = self.hasher.hash(password)
        with self._engine.begin() as conn:
            conn.execute(update(t.users).where(u.name == name).values(**values))
        return True

    def _reserve(self, subjects: tuple[str, ...]) -> tuple[int, bool]:
        """Count one attempt against every subject, or refuse it when one of them is locked.

        One transaction that holds the subjects' rows for writing: ``BEGIN IMMEDIATE`` on SQLite (one
        writer at a time), the rows inserted when missing and then locked with ``SELECT … FOR UPDATE``
        on PostgreSQL, always in the same order so that two attempts cannot deadlock. Returns the
        wait in seconds and whether the attempt is refused; when it is not, the wait is the one this
        attempt starts should its password be wrong (0 while below ``max_failures``).
        """
        settings = self.login_settings
        now = self.clock()
        f = t.login_failures.c
        ordered = sorted(set(subjects))
        with self._engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                for subject in ordered:
                    conn.execute(_insert_new(conn, subject=subject, failures=0, last_failure_at=iso(now),
                                             locked_until=None))
            rows = {r.subject: r for r in conn.execute(
                select(f.subject, f.failures, f.locked_until).where(f.subject.in_(ordered))
                .order_by(f.subject).with_for_update())}
            waits = [self._remaining(rows[s].locked_until, now) for s in ordered if s in rows]
            if max(waits, default=0) > 0:
                return max(waits), True
            wait = 0
            for subject in ordered:
                failures = (rows[subject].failures if subject in rows else 0) + 1
                locked = None
                if failures >= settings.max_failures:
                    seconds = min(settings.lockout_max_s,
                                  settings.lockout_s * 2 ** min(failures - settings.max_failures, 32))
                    locked = iso(now + dt.timedelta(seconds=seconds))
                    wait = max(wait, seconds)
                values = {"failures": failures, "last_failure_at": iso(now), "locked_until": locked}
                if subject in rows:
                    conn.execute(update(t.login_failures).where(f.subject == subject).values(**values))
                else:  # on PostgreSQL only when a successful login removed the row just now
                    conn.execute(_insert_new(conn, subject=subject, **values))
        return wait, False

    def _remaining(self, locked_until: str | None, now: dt.datetime) -> int:
        if locked_until is None:
            return 0
        return max(0, int((parse_iso(locked_until) - now).total_seconds() + 0.999))

    def _clear(self, subjects: tuple[str, ...]) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(t.login_failures).where(t.login_failures.c.subject.in_(subjects)))

    # -- sessions ------------------------------------------------------------------------------

    def start_session(self, user: str, *, client: str) -> tuple[str, Session]:
        """A new session for ``user``: returns the cookie value (shown once) and the session."""
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(user, secrets.token_urlsafe(32), self._expiry(now, now))
        with self._engine.begin() as conn:
            conn.execute(insert(t.sessions).values(
                id=_sha256(cookie), user_name=user, csrf=session.csrf, created_at=iso(now), seen_at=iso(now),
                expires_at=iso(session.expires_at), client=client[:100],
            ))
            conn.execute(delete(t.sessions).where(t.sessions.c.expires_at < iso(now)))
        return cookie, session

    def session(self, cookie: str | None) -> Session | None:
        """The live session for a cookie value, its expiry moved on (sliding, but never past the absolute
        lifetime counted from the login); None when unknown or expired."""
        if not cookie:
            return None
        s = t.sessions.c
        key = _sha256(cookie)
        now = self.clock()
        with self._engine.connect() as conn:
            row = conn.execute(select(s.user_name, s.csrf, s.created_at, s.expires_at, s.seen_at)
                               .where(s.id == key)).first()
        if row is None:
            return None
        created = parse_iso(row.created_at)
        if parse_iso(row.expires_at) <= now or created + self._session_max <= now:
            with self._engine.begin() as conn:
                conn.execute(delete(t.sessions).where(s.id == key))
            return None
        expires = self._expiry(created, now)
        if (now - parse_iso(row.seen_at)).total_seconds() > 60:  # write at most once a minute per session
            with self._engine.begin() as conn:
                conn.execute(update(t.sessions).where(s.id == key).values(seen_at=iso(now), expires_at=iso(expires)))
        return Session(row.user_name, row.csrf, expires)

    def end_session(self, cookie: str | None) -> None:
        if cookie:
            with self._engine.begin() as conn:
                conn.execute(delete(t.sessions).where(t.sessions.c.id == _sha256(cookie)))

    def _expiry(self, created: dt.datetime, now: dt.datetime) -> dt.datetime:
        """The idle limit from now, capped by the absolute lifetime from the login."""
        return min(now + self._session_length, created + self._session_max)

    @property
    def _session_length(self) -> dt.timedelta:
        return dt.timedelta(hours=self.login_settings.session_hours)

    @property
    def _session_max(self) -> dt.timedelta:
        """How long a session may live at most, however active (also the session cookie's Max-Age)."""
        return dt.timedelta(hours=self.login_settings.session_max_hours)

    @property
    def session_max_age_s(self) -> int:
        return int(self._session_max.total_seconds())

    # -- API tokens ----------------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        """Make a token called ``name``; returns the token itself, which is never shown again."""
        if not _NAME.match(name):
            raise AccountError("a token name has letters, digits, '.', '_', '-' or '@' (at most 100)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.api_tokens).values(
                    name=name, token_hash=_sha256(token), prefix=token[:10], created_at=iso(self.clock()),
                ))
        except IntegrityError:
            raise AccountError(f"token {name!r} exists; revoke it first") from None
        return token

    def tokens(self) -> list[ApiToken]:
        k = t.api_tokens.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(k.name, k.prefix, k.created_at, k.last_used_at).order_by(k.name)).all()
        return [ApiToken(r.name, r.prefix, r.created_at, r.last_used_at) for r in rows]

    def revoke_token(self, name: str) -> None:
        with self._engine.begin() as conn:
            gone = conn.execute(delete(t.api_tokens).where(t.api_tokens.c.name == name)).rowcount
        if not gone:
            raise AccountError(f"no token {name!r}")

    def token_name(self, token: str | None) -> str | None:
        """The name of the token, or None when it is not a token koppel issued."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        k = t.api_tokens.c
        digest = _sha256(token)
        with self._engine.connect() as conn:
            row = conn.execute(select(k.name, k.token_hash, k.last_used_at).where(k.token_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        now = self.clock()
        if row.last_used_at is None or (now - parse_iso(row.last_used_at)).total_seconds() > 60:
            with self._engine.begin() as conn:
                conn.execute(update(t.api_tokens).where(k.token_hash == digest).values(last_used_at=iso(now)))
        return row.name
