"""A small hand-made school as plan changes, for the golden files: every kind of row SDS gets, and the
awkward values (voorvoegsels, diacritics, a comma, quotes, a line break)."""

from __future__ import annotations

from typing import Any

from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.testing.conformance import change

BRIN = "12AB00"
YEAR = "2025-2026"
NEXT = "2026-2027"


def group(key: str, type_: str, name: str, parent: str | None, year: str | None = YEAR, **extra: Any) -> Change:
    attrs = {"type": type_, "name": name, "code": None, "parent": parent, "school": BRIN,
             "school_year": None if type_ == "school" else year, **extra}
    return change(Action.CREATE, ObjectKind.GROUP, key, attrs, school=BRIN)


def person(key: str, role: str, given: str, prefix: str, family: str, username: str, email: str | None,
           **extra: Any) -> Change:
    attrs = {"role": role, "given": given, "prefix": prefix, "family": family, "username": username, "email": email,
             **extra}
    return change(Action.CREATE, ObjectKind.PERSON, key, attrs, school=BRIN)


def member(person_key: str, group_key: str, role: str, home: bool = False) -> Change:
    from koppel.testing.conformance import membership

    return membership(person_key, group_key, role, home)


def school() -> list[Change]:
    """Groups, persons, memberships: in the plan's order (parents first)."""
    groups = [
        group(f"school:{BRIN}", "school", "Het Baken College, locatie Noord", None),
        group(f"year:{BRIN}:{YEAR}", "folder", YEAR, f"school:{BRIN}"),
        group(f"las:{BRIN}:{YEAR}:1A", "klas", "1A", f"year:{BRIN}:{YEAR}", leerjaar=1),
        group(f"las:{BRIN}:{YEAR}:1A.ne", "course", "Nederlands 1A.ne", f"year:{BRIN}:{YEAR}", subject="ne",
              leerjaar=1),
        group(f"year:{BRIN}:{NEXT}", "folder", NEXT, f"school:{BRIN}", year=NEXT),
        group(f"las:{BRIN}:{NEXT}:2A.ne", "course", "Nederlands 2A.ne", f"year:{BRIN}:{NEXT}", year=NEXT,
              subject="ne", leerjaar=2),
    ]
    persons = [
        person("eck-aaaa", "student", "Zoë", "van der", "Berg", "100001", "100001@leerling.baken.example"),
        person("las:100002", "student", 'Noor "Nini"', "in 't", "Veld,\nJansen", "100002", None),
        person("las:100003", "student", "Björn", "", "Çelik", "100003", None),
        person("las:BER", "staff", "Jan", "de", "Bergen", "ber@baken.example", "ber@baken.example"),
        person("las:g1", "guardian", "Fatima", "El", "Amrani", "felamrani", "f.elamrani@mail.example",
               children=("eck-aaaa", "las:100003")),
        person("las:g2", "guardian", "Piet", "", "Zonder", "pzonder", "p.zonder@mail.example",
               children=("las:nobody",)),
    ]
    klas, course, later = f"las:{BRIN}:{YEAR}:1A", f"las:{BRIN}:{YEAR}:1A.ne", f"las:{BRIN}:{NEXT}:2A.ne"
    memberships = [
        member("eck-aaaa", f"school:{BRIN}", "student", home=True),
        member("las:100002", f"school:{BRIN}", "student", home=True),
        member("las:100003", f"school:{BRIN}", "student", home=True),
        member("las:BER", f"school:{BRIN}", "teacher", home=True),
        member("las:g1", f"school:{BRIN}", "guardian", home=True),
        member("eck-aaaa", klas, "student"), member("las:100002", klas, "student"),
        member("las:100003", klas, "student"), member("las:BER", klas, "mentor"),
        member("eck-aaaa", course, "student"), member("las:100002", course, "student"),
        member("las:BER", course, "teacher"), member("las:BER", course, "mentor"),
        member("las:BER", later, "teacher"),
        member("las:100003", f"year:{BRIN}:{YEAR}", "student"),
    ]
    return groups + persons + memberships


def by_batch(changes: list[Change]) -> list[list[Change]]:
    """One kind and action per batch, as the applier sends them."""
    batches: list[list[Change]] = []
    for c in changes:
        if batches and (batches[-1][0].kind, batches[-1][0].action) == (c.kind, c.action):
            batches[-1].append(c)
        else:
            batches.append([c])
    return batches
