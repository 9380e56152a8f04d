"""Small, typed changes to a generated bestuur, the way a school administrator makes them in the LAS.

The demo uses these to show a koppeling at work: a pupil moves to another klas, a pupil drops a
subject, a new docent joins a lesgroep; then it exports again and plans. Each helper returns a new
:class:`~koppel.generator.model.Bestuur` and leaves the old one untouched; each refuses (with
``KeyError`` or ``ValueError``) a change that a LAS would refuse.
"""

from __future__ import annotations

from dataclasses import replace

from koppel.generator.curriculum import SECTIE
from koppel.generator.model import Bestuur, Lesgroep, Teacher

__all__ = ["add_teacher", "drop_subject", "move_pupil"]


def move_pupil(bestuur: Bestuur, stamnr: str, new_klas: str) -> Bestuur:
    """Move a pupil to another klas of the same school.

    The pupil leaves the whole-klas lesgroepen of the old klas (``2H1.wi``) and joins those of the
    new one (``2H2.wi``); clusters are kept. Leerjaar and onderwijssoort follow the new klas.
    """
    pupil = bestuur.pupil(stamnr)
    klas = bestuur.klas(pupil.brin6, new_klas)
    if klas.name == pupil.klas:
        raise ValueError(f"pupil {stamnr} is already in klas {new_klas}")
    moved = replace(pupil, klas=klas.name, leerjaar=klas.leerjaar, onderwijssoort=klas.onderwijssoort)
    groups = []
    for group in bestuur.lesgroepen:
        if group.brin6 == pupil.brin6 and group.klas == pupil.klas and stamnr in group.pupils:
            group = replace(group, pupils=tuple(s for s in group.pupils if s != stamnr))
        elif group.brin6 == pupil.brin6 and group.klas == klas.name:
            group = replace(group, pupils=_sorted_stamnrs((*group.pupils, stamnr)))
        groups.append(group)
    pupils = tuple(moved if p.stamnr == stamnr else p for p in bestuur.pupils)
    return replace(bestuur, pupils=pupils, lesgroepen=tuple(groups))


def drop_subject(bestuur: Bestuur, stamnr: str, lesgroep: str) -> Bestuur:
    """Take a pupil out of one lesgroep (the pupil stops the vak, or leaves the cluster)."""
    pupil = bestuur.pupil(stamnr)
    group = bestuur.lesgroep(pupil.brin6, lesgroep)
    if stamnr not in group.pupils:
        raise ValueError(f"pupil {stamnr} is not in lesgroep {lesgroep}")
    changed = replace(group, pupils=tuple(s for s in group.pupils if s != stamnr))
    return replace(bestuur, lesgroepen=_replace_group(bestuur.lesgroepen, group, changed))


def add_teacher(
    bestuur: Bestuur,
    brin6: str,
    docentcode: str,
    roepnaam: str,
    voorvoegsel: str,
    achternaam: str,
    lesgroep: str,
    *,
    email: str | None = None,
) -> Bestuur:
    """A new docent joins the school and teaches ``lesgroep`` (next to any docent it already has).

    The docent gets the next free personeel-stamnummer of the bestuur and, unless given, the
    e-mail address ``<docentcode>@<school domain>`` as generated docenten have.
    """
    school = bestuur.school(brin6)
    code = docentcode.strip().upper()
    if not (3 <= len(code) <= 4 and code.isalpha()):
        raise ValueError(f"docentcode {docentcode!r} must be 3 or 4 letters")
    if any(t.brin6 == brin6 and t.docentcode == code for t in bestuur.teachers):
        raise ValueError(f"docentcode {code} is already taken at {brin6}")
    group = bestuur.lesgroep(brin6, lesgroep)
    stamnr = str(max((int(t.stamnr) for t in bestuur.teachers), default=1000) + 1)
    teacher = Teacher(
        brin6=brin6,
        stamnr=stamnr,
        docentcode=code,
        roepnaam=roepnaam,
        voorvoegsel=voorvoegsel,
        achternaam=achternaam,
        email=email or f"{code.lower()}@{school.domain}",
        login=code.lower(),
        secties=(SECTIE.get(group.vak, group.vak),),
    )
    changed = replace(group, teachers=(*group.teachers, code))
    return replace(
        bestuur,
        teachers=(*bestuur.teachers, teacher),
        lesgroepen=_replace_group(bestuur.lesgroepen, group, changed),
    )


def _replace_group(groups: tuple[Lesgroep, ...], old: Lesgroep, new: Lesgroep) -> tuple[Lesgroep, ...]:
    return tuple(new if g is old else g for g in groups)


def _sorted_stamnrs(stamnrs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(stamnrs, key=int))
