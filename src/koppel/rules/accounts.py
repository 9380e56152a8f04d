"""User names and e-mail addresses: from the school's templates, deterministic on collision (``jjansen``,
``jjansen2``, …), and never renaming an account koppel already manages."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from koppel.model.roster import Diagnostic, Person, PersonKind, Severity
from koppel.rules.settings import AccountSettings

__all__ = ["email_of", "normalise_username", "unique_usernames", "username_base"]

TemplateValues = Callable[[Person], Mapping[str, str]]


def unique_usernames(order: Iterable[str], known: Mapping[str, str], base: Callable[[str], str]) -> dict[str, str]:
    """A user name per sync key, in ``order``: the one in use (``known``) where there is one, else the first
    of ``base``, ``base2``, ``base3`` … that nobody has — koppel's known names count as taken too."""
    order = list(order)
    taken: set[str] = set(known.values())
    usernames: dict[str, str] = {}
    for sync in order:
        existing = known.get(sync)
        if existing:
            usernames[sync] = existing
    for sync in order:
        if sync in usernames:
            continue
        name = base(sync)
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}{n}"
        taken.add(candidate)
        usernames[sync] = candidate
    return usernames


def username_base(accounts: AccountSettings, person: Person,
                  values: TemplateValues) -> tuple[str, Diagnostic | None]:
    """The user name a person's template gives, before collisions; a warning when it gives nothing."""
    template = {PersonKind.STUDENT: accounts.username_student, PersonKind.STAFF: accounts.username_staff,
                PersonKind.GUARDIAN: accounts.username_guardian}[person.kind]
    if template == "{leerlingnummer}":  # the default for pupils: no need to fill in nine fields
        raw = person.leerlingnummer or person.las_key
    elif template == "{docentcode}":  # the default for staff
        raw = person.docentcode or person.las_key
    else:
        raw = template.format(**values(person))
    name = normalise_username(raw, lowercase=accounts.lowercase, ascii_only=accounts.ascii_only)
    if name:
        return name, None
    name = normalise_username(f"{person.source}{person.las_key}", lowercase=True, ascii_only=True) or "user"
    return name, Diagnostic(
        Severity.WARNING, "empty-username", f"user name template gave nothing for {person.display_name}; "
        f"using {name!r}", source=person.source, object=person.key,
        file=person.provenance.file if person.provenance else None,
        line=person.provenance.line if person.provenance else None,
    )


def email_of(accounts: AccountSettings, person: Person, username: str, values: TemplateValues) -> str | None:
    if accounts.email == "none":
        return None
    if accounts.email in ("las", "las-or-template") and person.email:
        return person.email
    if accounts.email == "las" or (accounts.domain is None and "{domain}" in accounts.email_template):
        return None
    return accounts.email_template.format(username=username, domain=accounts.domain or "", **values(person))


_NOT_USERNAME = re.compile(r"[^a-z0-9._-]+", re.IGNORECASE)
# Letters that Unicode decomposition leaves alone (NFKD has no base letter for them).
_TRANSLITERATE = str.maketrans({"ı": "i", "İ": "I", "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "đ": "d",
                                "Đ": "D", "ł": "l", "Ł": "L", "œ": "oe", "Œ": "OE", "þ": "th", "ð": "d"})


def normalise_username(raw: str, *, lowercase: bool = True, ascii_only: bool = True) -> str:
    """``'Zoë van der Berg'`` → ``'zoevanderberg'``: diacritics stripped, spaces and odd characters out."""
    text = raw.strip()
    if text.isascii() and text.isalnum():  # leerlingnummers, docentcodes: nothing to strip
        return text.lower() if lowercase else text
    if ascii_only:
        text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode()
        text = _NOT_USERNAME.sub("", text)
    else:
        text = re.sub(r"\s+", "", text)
    return text.lower() if lowercase else text
