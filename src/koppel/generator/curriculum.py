"""What Dutch secondary schools teach, to whom, in which groups.

A simplified but recognisable model of the VO curriculum: the five streams (vmbo-b, vmbo-k,
vmbo-t, havo, vwo) with their number of leerjaren; in the *onderbouw* every klas follows every vak
together (a whole-klas lesgroep such as ``1A.ne``); in the *bovenbouw* the gemeenschappelijk deel
is still taught per klas (``4H1.ne``) while the profile and keuze vakken are taught in clusters
across klassen (``4hnat1``, ``5vwisB2``). Vakken are grouped into secties, the unit a docent is
hired for (a wiskunde docent teaches ``wi``, ``wisA`` and ``wisB``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "MENTOR_SECTIE",
    "PROFILES",
    "SECTIE",
    "STREAMS",
    "VAKNAMEN",
    "Profile",
    "Stream",
    "choose_upper_vakken",
    "lower_vakken",
    "upper_common_vakken",
]


@dataclass(frozen=True, slots=True)
class Stream:
    """An onderwijssoort: its code, the letter in klas names, its leerjaren and its onderbouw."""

    code: str
    letter: str
    years: int
    lower_years: int
    klas_size: int

    @property
    def exam_year(self) -> int:
        return self.years


STREAMS: dict[str, Stream] = {
    "vmbo-b": Stream("vmbo-b", "B", 4, 2, 18),
    "vmbo-k": Stream("vmbo-k", "K", 4, 2, 20),
    "vmbo-t": Stream("vmbo-t", "T", 4, 2, 26),
    "havo": Stream("havo", "H", 5, 3, 28),
    "vwo": Stream("vwo", "V", 6, 3, 28),
}

VAKNAMEN: dict[str, str] = {
    "ne": "Nederlands",
    "en": "Engels",
    "fa": "Frans",
    "du": "Duits",
    "la": "Latijn",
    "gs": "geschiedenis",
    "ak": "aardrijkskunde",
    "wi": "wiskunde",
    "bi": "biologie",
    "nask": "natuur- en scheikunde",
    "nask1": "natuur- en scheikunde 1",
    "nask2": "natuur- en scheikunde 2",
    "nat": "natuurkunde",
    "schk": "scheikunde",
    "biol": "biologie",
    "ec": "economie",
    "econ": "economie",
    "beco": "bedrijfseconomie",
    "wisA": "wiskunde A",
    "wisB": "wiskunde B",
    "wisC": "wiskunde C",
    "wisD": "wiskunde D",
    "inf": "informatica",
    "lo": "lichamelijke opvoeding",
    "mu": "muziek",
    "bv": "beeldende vorming",
    "lv": "levensbeschouwing",
    "tn": "techniek",
    "maat": "maatschappijleer",
    "ckv": "culturele en kunstzinnige vorming",
    "zw": "zorg en welzijn",
    "eo": "economie en ondernemen",
    "bwi": "bouwen, wonen en interieur",
    "pie": "produceren, installeren en energie",
    "dp": "dienstverlening en producten",
    "men": "mentoruur",
    "lob": "loopbaanoriëntatie en -begeleiding",
    "dr": "drama",
    "vz": "verzorging",
}

MENTOR_SECTIE = "mentor"  # the mentoruur is taught by the klas's own mentor, whatever their vak

# vak -> the sectie a docent is hired for
SECTIE: dict[str, str] = {
    "ne": "ne",
    "en": "en",
    "fa": "fa",
    "du": "du",
    "la": "la",
    "gs": "gs",
    "ak": "ak",
    "wi": "wi",
    "wisA": "wi",
    "wisB": "wi",
    "wisC": "wi",
    "wisD": "wi",
    "bi": "bi",
    "biol": "bi",
    "nask": "na",
    "nask1": "na",
    "nask2": "sk",
    "nat": "na",
    "schk": "sk",
    "ec": "ec",
    "econ": "ec",
    "beco": "ec",
    "inf": "inf",
    "lo": "lo",
    "mu": "mu",
    "bv": "bv",
    "ckv": "bv",
    "lv": "lv",
    "tn": "tn",
    "maat": "maat",
    "zw": "zw",
    "eo": "eo",
    "bwi": "bwi",
    "pie": "pie",
    "dp": "dp",
    "lob": "lob",
    "dr": "dr",
    "vz": "bi",
    "men": MENTOR_SECTIE,
}

_LOWER: dict[str, tuple[str, ...]] = {
    "vmbo-b": ("ne", "en", "wi", "gs", "ak", "bi", "nask", "lo", "mu", "bv", "tn", "vz", "lv", "men"),
    "vmbo-k": ("ne", "en", "wi", "gs", "ak", "bi", "nask", "lo", "mu", "bv", "tn", "vz", "lv", "men"),
    "vmbo-t": ("ne", "en", "du", "wi", "gs", "ak", "bi", "nask", "ec", "lo", "mu", "bv", "lv", "men"),
    "havo": ("ne", "en", "fa", "du", "gs", "ak", "wi", "bi", "nask", "lo", "mu", "bv", "dr", "lv", "men"),
    "vwo": (
        "ne",
        "en",
        "fa",
        "du",
        "la",
        "gs",
        "ak",
        "wi",
        "bi",
        "nask",
        "lo",
        "mu",
        "bv",
        "dr",
        "lv",
        "men",
    ),
}

_BOVENBOUW_FIRST = ("ne", "en", "lo", "maat", "ckv", "lob", "men")
_BOVENBOUW_LATER = ("ne", "en", "lo", "lob", "men")
_UPPER_COMMON: dict[tuple[str, int], tuple[str, ...]] = {
    ("vmbo-b", 3): _BOVENBOUW_FIRST,
    ("vmbo-b", 4): _BOVENBOUW_LATER,
    ("vmbo-k", 3): _BOVENBOUW_FIRST,
    ("vmbo-k", 4): _BOVENBOUW_LATER,
    ("vmbo-t", 3): _BOVENBOUW_FIRST,
    ("vmbo-t", 4): _BOVENBOUW_LATER,
    ("havo", 4): _BOVENBOUW_FIRST,
    ("havo", 5): _BOVENBOUW_LATER,
    ("vwo", 4): _BOVENBOUW_FIRST,
    ("vwo", 5): _BOVENBOUW_LATER,
    ("vwo", 6): _BOVENBOUW_LATER,
}


@dataclass(frozen=True, slots=True)
class Profile:
    """A profiel: vakken everyone in it takes, and choices of one vak out of several."""

    code: str
    fixed: tuple[str, ...]
    choices: tuple[tuple[str, ...], ...]


PROFILES: dict[str, tuple[Profile, ...]] = {
    "havo": (
        Profile("CM", ("gs",), (("ak", "econ"), ("fa", "du"), ("wisA", "bv"))),
        Profile("EM", ("econ", "wisA", "gs"), (("beco", "ak"),)),
        Profile("NG", ("biol", "schk"), (("wisA", "wisB"), ("nat", "ak"))),
        Profile("NT", ("nat", "schk", "wisB"), (("biol", "inf", "wisD"),)),
    ),
    "vwo": (
        Profile("CM", ("gs", "wisC"), (("ak", "econ"), ("fa", "du"))),
        Profile("EM", ("econ", "wisA", "gs"), (("beco", "ak"), ("fa", "du"))),
        Profile("NG", ("biol", "schk"), (("wisA", "wisB"), ("nat", "ak"), ("fa", "du"))),
        Profile("NT", ("nat", "schk", "wisB"), (("biol", "inf", "wisD"), ("fa", "du"))),
    ),
    "vmbo-b": tuple(
        Profile(p.upper(), (p, "wi"), (("nask1", "bi", "ec"),)) for p in ("zw", "eo", "bwi", "pie", "dp")
    ),
    "vmbo-k": tuple(
        Profile(p.upper(), (p, "wi"), (("nask1", "bi", "ec"), ("ak", "gs")))
        for p in ("zw", "eo", "bwi", "pie", "dp")
    ),
    "vmbo-t": (
        Profile("TECH", ("wi", "nask1", "nask2"), (("bi", "ec", "gs"),)),
        Profile("ZORG", ("bi", "wi"), (("nask1", "ak"), ("gs", "du"))),
        Profile("ECO", ("ec", "wi"), (("gs", "ak"), ("du", "fa"))),
        Profile("LB", ("wi", "bi"), (("nask1", "ec"), ("ak", "gs"))),
    ),
}
# havo/vwo pupils also pick one free keuzevak outside their profile
_FREE_CHOICES: dict[str, tuple[str, ...]] = {
    "havo": ("fa", "du", "ak", "econ", "inf", "bv", "mu"),
    "vwo": ("ak", "econ", "inf", "bv", "mu", "la"),
}


def lower_vakken(stream: str) -> tuple[str, ...]:
    """The vakken every onderbouw klas of ``stream`` follows."""
    return _LOWER[stream]


def upper_common_vakken(stream: str, leerjaar: int) -> tuple[str, ...]:
    """The gemeenschappelijk deel a bovenbouw klas follows together."""
    return _UPPER_COMMON[(stream, leerjaar)]


def choose_upper_vakken(stream: str, rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """Pick a profiel and the cluster vakken that go with it: ``("NT", ("nat", "schk", …))``."""
    profile = rng.choice(PROFILES[stream])
    vakken = list(profile.fixed)
    for options in profile.choices:
        vakken.append(rng.choice(options))
    free = [v for v in _FREE_CHOICES.get(stream, ()) if v not in vakken]
    if free:
        vakken.append(rng.choice(free))
    return profile.code, tuple(dict.fromkeys(vakken))
