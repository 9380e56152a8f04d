"""The mapping's rules: which school year's flow is published, what SDS cannot take (a per-object failure with
the reason), guardians as contacts, and the settings' checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from koppel.model.change import Action, ItemOutcome
from koppel.model.desired import ObjectKind
from koppel.targets.sds import SdsSettings
from koppel.testing.conformance import change
from tests.target_sds.roster import BRIN, NEXT, YEAR, by_batch, group, person, school
from tests.target_sds.support import make_target, read_set


def publish_school(tmp_path, **settings):
    target = make_target(tmp_path / "out", **settings)
    for batch in by_batch(school()):
        assert all(r.ok for r in target.apply(batch))
    target.publish()
    return target


def test_next_years_classes_wait_until_this_years_are_archived_then_a_new_flow_folder_starts(tmp_path):
    target = publish_school(tmp_path)
    first = read_set(tmp_path / "out" / YEAR)
    assert {r["sourcedId"] for r in first["classes.csv"]} == {f"las:{BRIN}:{YEAR}:1A", f"las:{BRIN}:{YEAR}:1A.ne"}
    # The jaarovergang: this year's classes archived (the plan's one held run), next year's stay.
    target.apply([change(Action.ARCHIVE, ObjectKind.GROUP, f"las:{BRIN}:{YEAR}:{g}", before={"type": "klas"})
                  for g in ("1A", "1A.ne")])
    note = target.publish()
    assert f"out/{NEXT}" in note
    second = read_set(tmp_path / "out" / NEXT)
    assert [r["sourcedId"] for r in second["classes.csv"]] == [f"las:{BRIN}:{NEXT}:2A.ne"]
    assert second["academicSessions.csv"][0]["schoolYear"] == "2027"
    assert {r["sessionSourcedIds"] for r in second["classes.csv"]} == {f"schooljaar-{NEXT}"}
    assert [(r["userSourcedId"], r["role"]) for r in second["enrollments.csv"]] == [("las:BER", "teacher")]
    # Last year's folder is no longer written: it keeps the last set of that flow.
    assert read_set(tmp_path / "out" / YEAR) == first


def test_the_flow_folder_template_and_the_school_year_without_classes(tmp_path):
    target = make_target(tmp_path / "out", flow_folder="sds-{academic_year}")
    target.apply([group(f"school:{BRIN}", "school", "Het Baken", None)])
    target.publish()  # no class at all: the school year today falls in (2025-10-01: 2025-2026)
    assert (tmp_path / "out" / "sds-2026" / "orgs.csv").exists()


def test_what_sds_cannot_take_fails_per_object_with_the_reason(tmp_path):
    target = make_target(tmp_path / "out", username_domain=None)
    target.apply([group(f"school:{BRIN}", "school", "Het Baken", None)])
    results = target.apply([
        person("las:1", "student", "Jan", "", "Jansen", "100001", None),
        person("las:2", "student", "Jan", "", "", "u@school.example", None),
        person("las:3", "guardian", "Els", "", "Ouder", "eouder", None),
        person("las:4", "staff", "Kees", "", "Leraar", "kle@school.example", None),
    ])
    outcome = {r.key: r for r in results}
    assert outcome["las:1"].outcome is ItemOutcome.FAILED and "username_domain" in (outcome["las:1"].message or "")
    assert "familyName" in (outcome["las:2"].message or "")
    assert "e-mail" in (outcome["las:3"].message or "")
    assert outcome["las:4"].ok
    orphan = target.apply([group("las:x", "course", "Wiskunde", "year:nowhere")])[0]
    assert orphan.outcome is ItemOutcome.FAILED and "year:nowhere" in (orphan.message or "")
    target.publish()
    users = read_set(tmp_path / "out" / YEAR)["users.csv"]
    assert [u["sourcedId"] for u in users] == [], "a staff member without a school role is not a user yet"


def test_an_update_keeps_what_it_does_not_send_and_suspend_takes_a_user_out(tmp_path):
    target = publish_school(tmp_path, match_existing_accounts=True, emails="all")
    target.apply([change(Action.UPDATE, ObjectKind.PERSON, "eck-aaaa", {"family": "Bergen"},
                         before={"family": "Berg"}, fields=("family",))])
    target.apply([change(Action.SUSPEND, ObjectKind.PERSON, "las:100002", before={"role": "student"})])
    target.publish()
    t = read_set(tmp_path / "out" / YEAR)
    users = {u["sourcedId"]: u for u in t["users.csv"]}
    assert users["eck-aaaa"]["familyName"] == "van der Bergen" and users["eck-aaaa"]["givenName"] == "Zoë"
    assert users["eck-aaaa"]["activeDirectoryMatchId"] == "100001@school.example"
    assert users["eck-aaaa"]["email"] == "100001@leerling.baken.example"
    assert "las:100002" not in users
    assert all("las:100002" not in (r["userSourcedId"],) for r in t["enrollments.csv"] + t["roles.csv"])


def test_klassen_can_be_left_out_and_guardians_without_published_children_are_not_users(tmp_path):
    target = publish_school(tmp_path, klassen=False)
    t = read_set(tmp_path / "out" / YEAR)
    assert [r["sourcedId"] for r in t["classes.csv"]] == [f"las:{BRIN}:{YEAR}:1A.ne"]
    users = {u["sourcedId"] for u in t["users.csv"]}
    assert "las:g1" in users and "las:g2" not in users
    assert target.read().objects, "read() is the mirror"


@pytest.mark.parametrize(("settings", "message"), [
    ({"flow_folder": "sds"}, "must contain {school_year}"),
    ({"flow_folder": "../{school_year}"}, "one folder name"),
    ({"username_domain": "not a domain"}, "not a domain name"),
    ({"sftp": {"host": "h", "username": "u", "private_key_file": "k"}}, "host key must be known"),
    ({"sftp": {"host": "h", "username": "u", "known_hosts": "kh"}}, "exactly one way to log in"),
    ({"sftp": {"host": "h", "username": "u", "known_hosts": "kh", "private_key_file": "k", "password_env": "P"}},
     "exactly one way to log in"),
    ({"sftp": {"host": "h", "username": "u", "private_key_file": "k", "host_key_fingerprint": "MD5:aa"}},
     "not an OpenSSH SHA256 fingerprint"),
])
def test_settings_refuse_what_cannot_work_and_say_why(settings, message):
    with pytest.raises(ValidationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        SdsSettings.model_validate({"folder": "out", **settings})


def test_secrets_never_show(tmp_path):
    settings = SdsSettings.model_validate({"folder": "out", "sftp": {
        "host": "h", "username": "u", "password": "hunter2", "verify_host_key": False}})
    assert "hunter2" not in repr(settings) and "hunter2" not in settings.model_dump_json()
    target = make_target(tmp_path, sftp={"host": "h", "username": "u", "password_env": "SFTP_PW",
                                         "verify_host_key": False}, env={"SFTP_PW": "hunter2"})
    assert "hunter2" not in repr(target)


def test_preview_shows_the_row_a_change_puts_in_or_takes_out():
    from koppel.targets.sds import preview

    settings = {"folder": "out", "username_domain": "school.example", "emails": "all"}
    [create] = preview(settings, [person("las:1", "student", "Jan", "de", "Vries", "100001", "j@x.example")])
    assert create.title == "users.csv: row in every publication from now on"
    assert create.body.splitlines() == ["sourcedId,username,givenName,familyName,email",
                                        "las:1,100001@school.example,Jan,de Vries,j@x.example"]
    [gone] = preview(settings, [change(Action.SUSPEND, ObjectKind.PERSON, "las:1", before={"role": "student",
                                                                                          "username": "100001"})])
    assert gone.title == "users.csv: row left out from the next publication on"
    [enrol] = preview(settings, [change(Action.CREATE, ObjectKind.MEMBERSHIP, "las:1|las:c|mentor",
                                        {"person": "las:1", "group": "las:c", "role": "mentor", "home": False})])
    assert (enrol.title.split(":")[0], enrol.body.splitlines()[1]) == ("enrollments.csv", "las:c,las:1,teacher")
    assert preview(settings, [person("las:2", "student", "Jan", "", "", "1", None)]) == [], "apply fails it"
