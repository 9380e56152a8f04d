"""The text rules Moodle's regular expressions need, the ids records carry, and the settings' refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from koppel.targets.imsenterprise import ImsEnterpriseSettings
from koppel.targets.imsenterprise.mapping import (
    MappingConfig,
    Refusal,
    clean_identifier,
    clean_name,
    member_line,
    person_record,
    wire_id,
)
from koppel.targets.imsenterprise.settings import Profile

MOODLE = MappingConfig()
ITSL = MappingConfig(profile=Profile.ITSLEARNING)


@pytest.mark.parametrize(("raw", "moodle"), [
    ("Mens & Maatschappij", "Mens en Maatschappij"),
    ("R&D", "R en D"),
    ("Tom &  Jerry", "Tom en Jerry"),
    ("<b>Bold</b>", "‹b›Bold‹/b›"),
    ("d'Artagnan", "d'Artagnan"),
    ('Jan "de Snelle"', 'Jan "de Snelle"'),
    ("Zoë  Çelik\tNguyễn", "Zoë Çelik Nguyễn"),
    ("  in 't Veld ", "in 't Veld"),
])
def test_names_for_moodle_hold_no_character_it_would_store_escaped(raw, moodle):
    assert clean_name(raw, "name", MOODLE) == moodle


def test_the_ampersand_word_is_a_setting_and_itslearning_keeps_the_ampersand():
    assert clean_name("Mens & Natuur", "name", MappingConfig(ampersand="+")) == "Mens + Natuur"
    assert clean_name("R&D", "name", MappingConfig(ampersand="+")) == "R+D"
    assert clean_name("Mens & Natuur <3>", "name", ITSL) == "Mens & Natuur <3>"


def test_a_control_character_or_an_empty_name_is_refused_with_what_to_do():
    with pytest.raises(Refusal, match="U\\+0007.*correct it in the LAS"):
        clean_name("Jan\x07", "first name", MOODLE)
    with pytest.raises(Refusal, match="last name is empty"):
        clean_name("  ", "last name", MOODLE)


def test_identifiers_are_never_rewritten_only_refused():
    assert clean_identifier("jan.de.vries@school.nl", "e-mail", MOODLE) == "jan.de.vries@school.nl"
    with pytest.raises(Refusal, match="&amp;"):
        clean_identifier("a&b@school.nl", "e-mail address", MOODLE)
    assert clean_identifier("a&b@school.nl", "e-mail address", ITSL) == "a&b@school.nl"
    with pytest.raises(Refusal, match="creates no account without a user name"):
        clean_identifier("", "user name", MOODLE)


def test_keys_moodle_cannot_hold_are_sent_as_a_stable_digest():
    assert wire_id("las:12AB00:2025-2026:4hnat1", 100) == "las:12AB00:2025-2026:4hnat1"
    long = "las:12AB00:2025-2026:" + "x" * 100
    hashed = wire_id(long, 100)
    assert hashed.startswith("koppel-") and len(hashed) == 39 and hashed == wire_id(long, 100)
    assert wire_id("las:12AB00:2025-2026:M&M", 100).startswith("koppel-")
    assert wire_id("las:12AB00:2025-2026:4 havo", 100).startswith("koppel-")


def test_a_person_record_puts_the_voorvoegsel_in_the_last_name_and_escapes_for_itslearning():
    attrs = {"role": "student", "given": "Noor", "prefix": "in 't", "family": "Veld", "username": "NVeld",
             "email": None}
    text = person_record("eck-1", attrs, MOODLE)
    assert "<family>in 't Veld</family><given>Noor</given>" in text and "<fn>Noor in 't Veld</fn>" in text
    assert "<userid>nveld</userid>" in text and "<email>" not in text
    assert "<userid>NVeld</userid>" in person_record("eck-1", attrs, MappingConfig(lowercase_usernames=False))
    text = person_record("eck-1", {**attrs, "given": "Jip & Janneke"}, ITSL)
    assert "<given>Jip &amp; Janneke</given>" in text


def test_an_update_writes_only_owned_fields_and_an_empty_email_to_clear_it():
    attrs = {"role": "student", "given": "Jan", "prefix": "", "family": "Vries", "username": "jv", "email": "x@y.nl"}
    assert "<email>" not in person_record("p", attrs, MOODLE, recstatus=2, fields=frozenset({"given"}))
    cleared = person_record("p", {**attrs, "email": None}, MOODLE, recstatus=2, fields=frozenset({"email"}))
    assert "<email></email>" in cleared
    text = person_record("p", attrs, MappingConfig(auth="manual"), recstatus=2, auth="nologin")
    assert '<person recstatus="2">' in text and '<userid authenticationtype="nologin">jv</userid>' in text


def test_an_unenrolment_is_recstatus_3_and_status_0_with_roletype_first():
    line = member_line("p", "u", "02", MOODLE, active=False)
    assert '<role roletype="02" recstatus="3">' in line and "<status>0</status>" in line


@pytest.mark.parametrize(("settings", "message"), [
    ({"profile": "itslearning", "mode": "delta"}, "snapshot semantics"),
    ({"mode": "delta", "carry_days": 0}, "lost when the next publication overwrites"),
    ({"suspend_auth": "nologin"}, "suspend_auth needs auth"),
    ({"file_name": "../moodle.xml"}, "a file name only"),
    ({"file_name": "koppel-{date}.xml"}, "only placeholder is {sequence}"),
    ({"roles": {"guardian": "09"}}, "not an IMS roletype"),
    ({"course_types": ["school"]}, "course types"),
    ({"ampersand": "&amp;"}, "no &"),
])
def test_settings_that_cannot_work_are_refused_with_the_reason(settings, message):
    with pytest.raises(ValidationError, match=message):
        ImsEnterpriseSettings(folder="out", **settings)


def test_settings_that_work():
    numbered = ImsEnterpriseSettings(folder="out", mode="delta", file_name="koppel-{sequence:06d}.xml", carry_days=0)
    assert numbered.numbered and not numbered.carries and numbered.file_name_for(12) == "koppel-000012.xml"
    fixed = ImsEnterpriseSettings(folder="out", mode="delta")
    assert fixed.carries and fixed.file_name_for(3) == "imsenterprise-enrol.xml"
    assert ImsEnterpriseSettings(folder="out").role_codes()["guardian"] is None
    assert ImsEnterpriseSettings(folder="out", profile="itslearning").role_codes()["guardian"] == "04"
    assert not ImsEnterpriseSettings(folder="out", profile="itslearning").carries
