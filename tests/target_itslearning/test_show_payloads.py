"""``koppel plan --show-payloads``: the SOAP request each change would send, built without credentials.

Through the command line on a generated school with an itslearning target that was never reached: a plan
needs no password and opens no connection, and what it shows is the envelope ``apply`` sends — minus the
WS-Security header, with ``preview-N`` message ids.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from koppel.cli.main import app
from koppel.generator import generate, write_layout
from koppel.model.change import Action, Change
from koppel.model.desired import ObjectKind
from koppel.model.roster import SchoolYear
from koppel.targets.itslearning import KIND
from koppel.targets.itslearning.batches import preview, preview_requests
from koppel.targets.itslearning.settings import ItslearningSettings

SECRET = "s3cret-that-must-never-show"
runner = CliRunner()


def run(cwd: Path, *args: str, env: dict[str, str] | None = None):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(app, list(args), env=env)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("show-payloads")
    bestuur = generate(students=60, schools=1, year=SchoolYear(2025), seed=5)
    write_layout(bestuur, root / "export", "magister")
    result = run(root, "init", "--source", "export", "--layout", "magister", "--target", "itslearning",
                 "--username", "koppel-12AB", "--password-env", "KOPPEL_TEST_ITSLEARNING_PASSWORD")
    assert result.exit_code == 0, result.output
    text = (root / "koppel.toml").read_text(encoding="utf-8")
    (root / "koppel.toml").write_text(text.replace('school_year = "auto"', 'school_year = "2025-2026"'))
    return root


def test_plan_shows_each_changes_envelope_without_secrets(school: Path):
    result = run(school, "plan", "--show-payloads", env={"KOPPEL_TEST_ITSLEARNING_PASSWORD": SECRET})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Payloads for itslearning (itslearning), one change at a time, without credentials:" in out
    assert "createGroups (SOAPAction http://www.imsglobal.org/soap/gms/createGroups)" in out
    assert "<msg:createGroupsRequest>" in out and "<ims:messageIdentifier>preview-1</ims:messageIdentifier>" in out
    assert SECRET not in out and "koppel-12AB" not in out
    assert "UsernameToken" not in out and "Security" not in out and "Password" not in out
    # The first 50 changes, as the plan's own list: each with its payload, then how many more.
    assert out.count("SOAPAction") == 50
    assert re.search(r"… and the payloads of [\d,]+ more changes \(use --all\)", out)


def test_all_shows_every_payload_and_the_plan_is_unchanged(school: Path):
    plain = run(school, "plan", "--all")
    every = run(school, "plan", "--all", "--show-payloads", env={"KOPPEL_TEST_ITSLEARNING_PASSWORD": SECRET})
    assert every.exit_code == 0, every.output
    listing, hint = plain.output.split("\n\nApply with")
    assert every.output.startswith(listing) and every.output.endswith("\n\nApply with" + hint), (
        "the payloads come after the plan's list, which stays as it was, and before the hint"
    )
    assert "createPersons (SOAPAction http://www.imsglobal.org/soap/pms/createPersons)" in every.output
    assert "createMemberships (SOAPAction http://www.imsglobal.org/soap/mms/createMemberships)" in every.output
    assert SECRET not in every.output and "UsernameToken" not in every.output
    changes = len(re.findall(r"^  [+~\-^>x] ", plain.output, re.M))
    assert changes > 50 and every.output.count("SOAPAction") == changes
    assert "more changes" not in every.output


def test_no_payloads_without_the_flag_and_none_in_json(school: Path):
    assert "SOAPAction" not in run(school, "plan").output
    refused = run(school, "plan", "--show-payloads", "--format", "json")
    assert refused.exit_code == 1
    assert "--show-payloads" in refused.output and "text" in refused.output


# -- the preview itself ------------------------------------------------------------------------------

SETTINGS = ItslearningSettings.model_validate(
    {"url": "https://enterprise.itslearning.com", "username": "koppel", "password_env": "X", "site_root": "ROOT"}
)


def _canonical(raw: bytes | str) -> bytes:
    root = etree.fromstring(raw.encode() if isinstance(raw, str) else raw, etree.XMLParser(remove_blank_text=True))
    return etree.tostring(root, method="c14n")


def test_a_payload_is_the_envelope_apply_sends_without_credentials():
    change = Change(action=Action.CREATE, kind=ObjectKind.PERSON, key="csv:1001", reason="new", phase=1,
                    after={"role": "student", "given": "Jan", "prefix": "van der", "family": "Berg",
                           "username": "jberg", "email": "jan@school.example"})
    (payload,) = preview(SETTINGS, [change])
    (request,) = preview_requests([change], SETTINGS.mapping_config(), batch_size=SETTINGS.batch_size)
    assert _canonical(payload.body) == _canonical(request.envelope)
    assert payload.title == "createPersons (SOAPAction http://www.imsglobal.org/soap/pms/createPersons)"
    assert KIND.preview is preview


def test_a_change_itslearning_cannot_take_has_no_payload():
    change = Change(action=Action.ARCHIVE, kind=ObjectKind.MEMBERSHIP, key="p|g|student", reason="x", phase=1)
    assert preview(SETTINGS, [change]) == []
