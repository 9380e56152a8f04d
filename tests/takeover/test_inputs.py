"""What a school types for a takeover — templates in koppel.toml, the mapping CSV — is refused with the file,
the line and what to do when it cannot be right; what can be right is read as meant."""

from __future__ import annotations

from pathlib import Path

import pytest

from koppel.cli.init_config import render_config
from koppel.config import load_config
from koppel.errors import ConfigError
from koppel.takeover.facts import render
from koppel.takeover.mapping_file import parse_mapping, read_mapping
from koppel.takeover.settings import TakeoverSettings, template_scope


def config_with(tmp_path: Path, table: str) -> Path:
    text = render_config(source="export", layout="magister", target_kind="itslearning",
                         url="https://enterprise.itslearning.com/WCFServiceLibrary/ImsEnterpriseServicesPort.svc",
                         username="koppel", password_env="PW")
    path = tmp_path / "koppel.toml"
    path.write_text(text + "\n[tenants.school.targets.itslearning.takeover]\n" + table, encoding="utf-8")
    return path


def test_templates_in_the_configuration_are_read(tmp_path):
    path = config_with(tmp_path, 'person_sync_ids = ["EC_{brin}_{leerlingnummer}"]\n'
                                 'group_sync_ids = ["EC_{brin}_{lesgroep}_{jaar}"]\nmatch_persons_on = ["email"]\n')
    settings = load_config(path).tenant(None).targets["itslearning"].settings.takeover
    assert settings.person_sync_ids == ["EC_{brin}_{leerlingnummer}"]
    assert [r.value for r in settings.match_persons_on] == ["email"]


def test_an_unknown_placeholder_names_the_file_line_and_the_placeholders(tmp_path):
    path = config_with(tmp_path, 'person_sync_ids = ["EC_{brin}_{stamnummer}"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    line = path.read_text(encoding="utf-8").splitlines().index('person_sync_ids = ["EC_{brin}_{stamnummer}"]') + 1
    assert (problem.file, problem.line) == (str(path), line)
    assert "unknown placeholder {stamnummer}" in problem.message and "leerlingnummer" in problem.message


@pytest.mark.parametrize("table,message", [
    ('group_sync_ids = ["EC_{brin}_{lesgroep}_{klas}"]\n', "both {lesgroep} and {klas}"),
    ('group_sync_ids = ["EC"]\n', "has no placeholder"),
    ('person_sync_ids = ["EC_{"]\n', "is not valid"),
    ('match_groups_on = ["title", "title"]\n', "name each rule once"),
    ('match_persons_on = ["naam"]\n', "sync_id"),
    ('prefix = "EC"\n', "unknown setting 'prefix'"),
])
def test_other_template_mistakes_are_refused(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        load_config(config_with(tmp_path, table))


def test_which_groups_a_template_is_for_follows_from_its_placeholders():
    assert template_scope("EC_{brin}_{lesgroep}_{jaar}") == "course"
    assert template_scope("EC_{brin}_{klas}_{jaar}") == "klas"
    assert template_scope("{brin6}-{groep}") == "group"
    assert template_scope("EC_{brin}_{jaar}") == "year"
    assert template_scope("EC_{brin}") == "school"
    assert render("EC_{brin}_{leerlingnummer}", {"brin": "12AB", "leerlingnummer": "100105"}) == "EC_12AB_100105"
    assert render("EC_{brin}_{docentcode}", {"brin": "12AB"}) is None, "a teacher template does not fit a pupil"
    assert TakeoverSettings().match_groups_on[-1].value == "parent"


def test_a_mapping_csv_is_read_with_header_semicolons_comments_and_leave_alone():
    mapping = parse_mapping("\ufeffsync id;koppel key\n# bekeken door de ICT\nEC_12AB_1;las:12AB00:1\n\n"
                            "jdevries;las:12AB00:mw:7\nGUID-9;-\n")
    assert [(r.site_id, r.key, r.line) for r in mapping.rows] == [
        ("EC_12AB_1", "las:12AB00:1", 3), ("jdevries", "las:12AB00:mw:7", 5), ("GUID-9", None, 6)]


def test_a_malformed_mapping_csv_lists_every_problem_with_its_line(tmp_path):
    path = tmp_path / "mapping.csv"
    path.write_text("sync id,koppel key\nA,las:1\nB\nA,las:2\nC,las:1\nD,\n\"E,las:3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_mapping(path)
    where = [(p.file, p.line) for p in caught.value.problems]
    assert where[:4] == [(str(path), 3), (str(path), 4), (str(path), 5), (str(path), 6)]
    text = str(caught.value)
    assert "expected 2 columns" in text and "mapped twice (also on line 2)" in text and "both columns" in text


def test_a_mapping_csv_that_is_missing_or_not_utf8_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="mapping CSV not found"):
        read_mapping(tmp_path / "nope.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("EC_1,las:Zoë\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_mapping(latin)
