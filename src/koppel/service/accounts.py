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
* **Roles** (migration 0006): every user and token has one or more grants, each a role on one tenant
  or on every tenant (``*``). The roles build on each other: ``viewer`` reads pages and the API,
  ``operator`` may also queue a run ("nu synchroniseren"), ``approver`` may also approve or discard a
  held plan, ``admin`` may also manage users and tokens (which is done with the CLI only: nothing over
  HTTP needs more than ``approver``). A subject's role on a tenant is the highest of its grant for that
  tenant and its ``*`` grant. Grants are read with every request, so a change takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from koppel.service import tables as t
from koppel.service.clock import Clock, iso, parse_iso
from koppel.service.settings import LoginSettings
from koppel.state.store import StateStore

__all__ = [
    "ADMIN_EVERYWHERE",
    "ALL_TENANTS",
    "Access",
    "AccountError",
    "Accounts",
    "ApiToken",
    "Grant",
    "LoginOutcome",
    "LoginResult",
    "Role",
    "Session",
    "SubjectKind",
    "User",
    "parse_role",
]

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


ALL_TENANTS = "*"


class Role(StrEnum):
    """What a grant allows on its tenant; each role includes the ones before it."""

    VIEWER = "viewer"  # read every page and the API
    OPERATOR = "operator"  # + queue a run ("nu synchroniseren")
    APPROVER = "approver"  # + approve or discard a held plan
    ADMIN = "admin"  # + manage users and tokens (with the CLI)

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class SubjectKind(StrEnum):
    USER = "user"
    TOKEN = "token"


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise AccountError(f"unknown role {text!r}: choose one of {', '.join(r.value for r in Role)}") from None


@dataclass(frozen=True)
class Grant:
    role: Role
    tenant: str  # a tenant id, or "*" for every tenant

    def to_json(self) -> dict[str, str]:
        return {"role": self.role.value, "tenant": self.tenant}

    def __str__(self) -> str:
        return f"{self.role.value} on {self.tenant}"


ADMIN_EVERYWHERE = (Grant(Role.ADMIN, ALL_TENANTS),)
"""What an account made through the Python API gets when given no grants (what every account could do
before roles existed); the CLI always asks for a role."""


@dataclass(frozen=True)
class Access:
    """What one user or token may do: its grants, asked per tenant."""

    grants: tuple[Grant, ...] = ()

    def role(self, tenant: str) -> Role | None:
        roles = [g.role for g in self.grants if g.tenant in (tenant, ALL_TENANTS)]
        return max(roles, key=lambda r: r.rank) if roles else None

    def may(self, role: Role, tenant: str) -> bool:
        mine = self.role(tenant)
        return mine is not None and mine.rank >= role.rank

    def everywhere(self, role: Role = Role.VIEWER) -> bool:
        """Whether the grant on ``*`` alone gives ``role`` on every tenant (also on ones added later)."""
        return any(g.tenant == ALL_TENANTS and g.role.rank >= role.rank for g in self.grants)

    def tenants(self, tenants: Iterable[str], role: Role = Role.VIEWER) -> list[str]:
        """Those of ``tenants`` (in their order) on which this access has ``role``."""
        return [t for t in tenants if self.may(role, t)]


@dataclass(frozen=True)
class User:
    name: str
    created_at: str
    last_login_at: str | None
    grants: tuple[Grant, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "created_at": self.created_at, "last_login_at": self.last_login_at,
                "grants": [g.to_json() for g in self.grants]}


@dataclass(frozen=True)
class ApiToken:
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    grants: tuple[Grant, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "prefix": self.prefix, "created_at": self.created_at,
                "last_used_at": self.last_used_at, "grants": [g.to_json() for g in self.grants]}


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    expires_at: dt.datetime
    access: Access = field(default_factory=Access)


def _insert_new(conn, **values):
    """An INSERT of a login_failures row that does nothing when the subject has a row already."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(t.login_failures).values(**values).on_conflict_do_nothing(index_elements=["subject"])


def _access(rows) -> Access:
    """The grants on rows of an outer join with ``grants`` (``role`` and ``tenant`` None: no grant)."""
    grants = []
    for row in rows:
        if row.role is None:
            continue
        try:
            grants.append(Grant(Role(row.role), row.tenant))
        except ValueError:  # a role this version does not know gives nothing
            continue
    return Access(tuple(grants))


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Accounts:
    """Users, tokens, sessions and throttling on one StateStore, with the service's clock."""

    def __init__(self, store: StateStore, *, clock: Clock, login: LoginSettings | None = None,
                 hasher: PasswordHasher | None = None, tenants: Collection[str] | None = None):
        """``tenants``: the configuration's tenant ids; when given, a grant on any other tenant is refused."""
        self.store = store
        self.known_tenants = tenants
        self.clock = clock
        self.login_settings = login or LoginSettings()
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    @property
    def _engine(self):
        return self.store.engine

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, *, grants: Sequence[Grant] = ADMIN_EVERYWHERE) -> User:
        if not _NAME.match(name):
            raise AccountError("a user name has letters, digits, '.', '_', '-' or '@' (at most 100)")
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
        grants = self.check_grants(grants)
        now = iso(self.clock())
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.users).values(name=name, password_hash=self.hasher.hash(password),
                                                    created_at=now))
                self._put_grants(conn, SubjectKind.USER, name, grants, now)
        except IntegrityError:
            raise AccountError(f"user {name!r} exists; remove it first to set a new password") from None
        return User(name, now, None, grants)

    def users(self) -> list[User]:
        u = t.users.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(u.name, u.created_at, u.last_login_at).order_by(u.name)).all()
            grants = self._all_grants(conn, SubjectKind.USER)
        return [User(r.name, r.created_at, r.last_login_at, grants.get(r.name, ())) for r in rows]

    def remove_user(self, name: str) -> None:
        with self._engine.begin() as conn:
            gone = conn.execute(delete(t.users).where(t.users.c.name == name)).rowcount
            conn.execute(delete(t.sessions).where(t.sessions.c.user_name == name))
            self._drop_grants(conn, SubjectKind.USER, name)
        if not gone:
            raise AccountError(f"no user {name!r}")

    # -- grants --------------------------------------------------------------------------------

    def check_grants(self, grants: Sequence[Grant]) -> tuple[Grant, ...]:
        """The grants, one per tenant, or AccountError: none at all, an unknown tenant, a tenant twice."""
        if not grants:
            raise AccountError("give a role: --role viewer|operator|approver|admin (and --tenant, default '*')")
        seen: dict[str, Grant] = {}
        for g in grants:
            if not isinstance(g.role, Role):
                raise AccountError(f"unknown role {g.role!r}")
            if g.tenant != ALL_TENANTS and self.known_tenants is not None and g.tenant not in self.known_tenants:
                known = ", ".join(sorted(self.known_tenants)) or "none"
                raise AccountError(f"no tenant {g.tenant!r} in the configuration (tenants: {known}; '*' is every "
                                   "tenant)")
            if g.tenant != ALL_TENANTS and not _NAME.match(g.tenant):
                raise AccountError(f"{g.tenant!r} is not a tenant id")
            if g.tenant in seen:
                raise AccountError(f"tenant {g.tenant!r} given twice")
            seen[g.tenant] = g
        return tuple(seen.values())

    def _put_grants(self, conn, kind: SubjectKind, name: str, grants: Sequence[Grant], now: str) -> None:
        """Set these grants (replacing the subject's grant on the same tenant, keeping its others)."""
        g = t.grants.c
        for grant in grants:
            conn.execute(delete(t.grants).where(g.subject_kind == kind.value, g.subject == name,
                                                g.tenant == grant.tenant))
            conn.execute(insert(t.grants).values(subject_kind=kind.value, subject=name, tenant=grant.tenant,
                                                 role=grant.role.value, created_at=now))

    def _drop_grants(self, conn, kind: SubjectKind, name: str) -> None:
        g = t.grants.c
        conn.execute(delete(t.grants).where(g.subject_kind == kind.value, g.subject == name))

    def _all_grants(self, conn, kind: SubjectKind, name: str | None = None) -> dict[str, tuple[Grant, ...]]:
        g = t.grants.c
        query = select(g.subject, g.role, g.tenant).where(g.subject_kind == kind.value).order_by(g.subject, g.tenant)
        if name is not None:
            query = query.where(g.subject == name)
        found: dict[str, list[Grant]] = {}
        for row in conn.execute(query):
            try:
                role = Role(row.role)
            except ValueError:  # a role this version does not know gives nothing
                continue
            found.setdefault(row.subject, []).append(Grant(role, row.tenant))
        return {k: tuple(v) for k, v in found.items()}

    def access(self, kind: SubjectKind, name: str) -> Access:
        with self._engine.connect() as conn:
            return Access(self._all_grants(conn, kind, name).get(name, ()))

    def grant(self, kind: SubjectKind, name: str, grants: Sequence[Grant]) -> tuple[Grant, ...]:
        """Give a user or token these grants (a grant replaces its existing one on the same tenant);
        returns all its grants now."""
        grants = self.check_grants(grants)
        self._exists(kind, name)
        with self._engine.begin() as conn:
            self._put_grants(conn, kind, name, grants, iso(self.clock()))
        return self.access(kind, name).grants

    def revoke(self, kind: SubjectKind, name: str, tenants: Sequence[str]) -> tuple[Grant, ...]:
        """Take the subject's grants on these tenants away; returns what is left."""
        self._exists(kind, name)
        g = t.grants.c
        with self._engine.begin() as conn:
            gone = conn.execute(delete(t.grants).where(g.subject_kind == kind.value, g.subject == name,
                                                       g.tenant.in_(list(tenants)))).rowcount
        if not gone:
            raise AccountError(f"{kind.value} {name!r} has no grant on {', '.join(map(repr, tenants))}")
        return self.access(kind, name).grants

    def _exists(self, kind: SubjectKind, name: str) -> None:
        table = t.users if kind is SubjectKind.USER else t.api_tokens
        with self._engine.connect() as conn:
            if conn.execute(select(table.c.name).where(table.c.name == name)).first() is None:
                raise AccountError(f"no {kind.value} {name!r}")

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
        session = Session(user, secrets.token_urlsafe(32), self._expiry(now, now),
                          self.access(SubjectKind.USER, user))
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
        g = t.grants.c
        with self._engine.connect() as conn:  # the session and its user's grants in one query
            rows = conn.execute(
                select(s.user_name, s.csrf, s.created_at, s.expires_at, s.seen_at, g.role, g.tenant)
                .select_from(t.sessions.outerjoin(t.grants, and_(g.subject_kind == SubjectKind.USER.value,
                                                                 g.subject == s.user_name)))
                .where(s.id == key).order_by(g.tenant)).all()
        row = rows[0] if rows else None
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
        return Session(row.user_name, row.csrf, expires, _access(rows))

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

    def create_token(self, name: str, *, grants: Sequence[Grant] = ADMIN_EVERYWHERE) -> str:
        """Make a token called ``name``; returns the token itself, which is never shown again."""
        if not _NAME.match(name):
            raise AccountError("a token name has letters, digits, '.', '_', '-' or '@' (at most 100)")
        grants = self.check_grants(grants)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = iso(self.clock())
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(t.api_tokens).values(
                    name=name, token_hash=_sha256(token), prefix=token[:10], created_at=now,
                ))
                self._put_grants(conn, SubjectKind.TOKEN, name, grants, now)
        except IntegrityError:
            raise AccountError(f"token {name!r} exists; revoke it first") from None
        return token

    def tokens(self) -> list[ApiToken]:
        k = t.api_tokens.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(k.name, k.prefix, k.created_at, k.last_used_at).order_by(k.name)).all()
            grants = self._all_grants(conn, SubjectKind.TOKEN)
        return [ApiToken(r.name, r.prefix, r.created_at, r.last_used_at, grants.get(r.name, ())) for r in rows]

    def revoke_token(self, name: str) -> None:
        with self._engine.begin() as conn:
            gone = conn.execute(delete(t.api_tokens).where(t.api_tokens.c.name == name)).rowcount
            self._drop_grants(conn, SubjectKind.TOKEN, name)
        if not gone:
            raise AccountError(f"no token {name!r}")

    def token_name(self, token: str | None) -> str | None:
        """The name of the token, or None when it is not a token koppel issued."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        found = self.token_access(token)
        return found[0] if found else None

    def token_access(self, token: str | None) -> tuple[str, Access] | None:
        """The token's name and what it may do, or None when it is not a token koppel issued."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        k = t.api_tokens.c
        g = t.grants.c
        digest = _sha256(token)
        with self._engine.connect() as conn:  # the token and its grants in one query
            rows = conn.execute(
                select(k.name, k.token_hash, k.last_used_at, g.role, g.tenant)
                .select_from(t.api_tokens.outerjoin(t.grants, and_(g.subject_kind == SubjectKind.TOKEN.value,
                                                                   g.subject == k.name)))
                .where(k.token_hash == digest).order_by(g.tenant)).all()
        row = rows[0] if rows else None
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        now = self.clock()
        if row.last_used_at is None or (now - parse_iso(row.last_used_at)).total_seconds() > 60:
            with self._engine.begin() as conn:
                conn.execute(update(t.api_tokens).where(k.token_hash == digest).values(last_used_at=iso(now)))
        return row.name, _access(rows)
