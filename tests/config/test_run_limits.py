"""A run timeout and a backoff per (tenant, target), in the target's ``[schedule]``: read into the limits the
service uses (the worker's ``--run-timeout`` is the default for a target without one), and every bad value
reported at once with its file, line and setting — also in an included tenant file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from koppel.config import check_config, load_config, parse_duration
from koppel.errors import ConfigError
from koppel.service.queue import Backoff, target_backoffs
from koppel.service.timed import DEFAULT_RUN_TIMEOUT_S, RunTimeouts

TWO_TENANTS = """\
[state]
url = "sqlite:///state.db"

[tenants.snel]
name = "Snel"

[tenants.snel.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.snel.targets.fake]
kind = "fake"

[tenants.snel.targets.fake.schedule]
enabled = true
interval = "15m"
{limits}
[tenants.traag]
name = "Traag"

[tenants.traag.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.traag.targets.fake]
kind = "fake"
"""


def write(tmp_path: Path, limits: str) -> Path:
    path = tmp_path / "koppel.toml"
    path.write_text(TWO_TENANTS.format(limits=limits), encoding="utf-8")
    return path


def problems_of(path: Path) -> dict[int, tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert all(p.file == str(path) for p in problems), problems
    by_line = {p.line: (p.setting, p.message) for p in problems}
    assert len(by_line) == len(problems), problems
    return by_line


def test_a_target_s_own_limits_and_the_defaults_for_the_others(tmp_path):
    config = load_config(write(tmp_path, 'run_timeout = "30m"\nbackoff_initial = "90s"\nbackoff_factor = 3\n'
                                         'backoff_max = "2h"\n'))
    snel = config.tenants["snel"].targets["fake"].schedule
    assert snel.run_timeout_s == 1800 and snel.backoff_initial_s == 90 and snel.backoff_max_s == 7200
    traag = config.tenants["traag"].targets["fake"].schedule
    assert traag.run_timeout_s is None and (traag.backoff_initial_s, traag.backoff_factor, traag.backoff_max_s) \
        == (300, 2.0, 6 * 3600)

    # `koppel worker --run-timeout 600`: the default only for the target that sets none
    timeouts = RunTimeouts.from_config(config, default_s=600)
    assert timeouts("snel", "fake") == 1800 and timeouts("traag", "fake") == 600
    assert RunTimeouts.from_config(config)("traag", "fake") == DEFAULT_RUN_TIMEOUT_S  # `koppel serve`

    backoffs = target_backoffs(config)
    waits = [backoffs[("snel", "fake")].delay(n) for n in (1, 2, 3, 5)]
    assert waits == [dt.timedelta(seconds=s) for s in (90, 270, 810, 2 * 3600)]  # ·3, at most 2 h
    assert backoffs[("traag", "fake")] == Backoff()  # 5 minutes, doubling, at most 6 hours
    assert [backoffs[("traag", "fake")].delay(n).total_seconds() for n in (1, 2, 8)] == [300, 600, 6 * 3600]


def test_durations_read_and_refused():
    assert [parse_duration(text) for text in ("90s", "30m", "30min", "2h", " 1d ")] == [90, 1800, 1800, 7200, 86400]
    for bad, why in (("-5m", "negative"), (-30, "negative"), (1800, "no unit"), ("soon", "not a duration"),
                     ("1.5h", "not a duration"), ("5 hours", "not a duration"), (True, "not a boolean")):
        with pytest.raises(ValueError, match=why):
            parse_duration(bad)


def test_bad_values_are_all_reported_with_file_line_and_setting(tmp_path):
    path = write(tmp_path, 'run_timeout = "-5m"\n'           # line 18
                           'backoff_initial = "soon"\n'      # 19
                           'backoff_factor = 0.5\n'          # 20
                           'run_timout = "3m"\n')            # 21
    by_line = problems_of(path)
    assert set(by_line) == {18, 19, 20, 21}, by_line
    prefix = "tenants.snel.targets.fake.schedule."
    assert by_line[18][0] == prefix + "run_timeout" and "'-5m' is negative" in by_line[18][1]
    assert by_line[19][0] == prefix + "backoff_initial" and "'soon' is not a duration like '30m'" in by_line[19][1]
    assert by_line[20][0] == prefix + "backoff_factor" and "greater than or equal to 1" in by_line[20][1]
    assert by_line[21][0] == prefix + "run_timout" and "did you mean 'run_timeout'?" in by_line[21][1]


@pytest.mark.parametrize(("limits", "setting", "message"), [
    ("run_timeout = 1800", "run_timeout", "1800 has no unit: write it as a duration like '1800s'"),
    ("run_timeout = -1800", "run_timeout", "-1800 is negative"),
    ('run_timeout = "0s"', "run_timeout", "'0s' is too short: a run may take at least '1s'"),
    ('run_timeout = ["1h"]', "run_timeout", "must be a duration like '30m', '2h' or '90s', not a list"),
    ('backoff_max = "-1h"', "backoff_max", "'-1h' is negative"),
    ('backoff_initial = "2h"\nbackoff_max = "1h"', "backoff_max", "'1h' is shorter than backoff_initial ('2h')"),
    ("backoff_factor = 11", "backoff_factor", "less than or equal to 10"),
])
def test_each_bad_value_names_its_setting(tmp_path, limits, setting, message):
    by_line = problems_of(write(tmp_path, limits))
    [(line, (where, text))] = by_line.items()
    assert where == f"tenants.snel.targets.fake.schedule.{setting}" and message in text, text
    written = (tmp_path / "koppel.toml").read_text(encoding="utf-8").splitlines()[line - 1]
    assert written.startswith(setting), (line, written)


def test_a_backoff_that_is_off_and_a_timeout_of_seconds_are_fine(tmp_path):
    config = load_config(write(tmp_path, 'run_timeout = "1s"\nbackoff_initial = "0s"\nbackoff_factor = 1\n'))
    schedule = config.tenants["snel"].targets["fake"].schedule
    assert schedule.run_timeout_s == 1
    assert Backoff.from_settings(schedule).delay(5) == dt.timedelta(0)


def test_a_bad_value_in_an_included_tenant_file_names_that_file(tmp_path):
    (tmp_path / "tenants").mkdir()
    (tmp_path / "koppel.toml").write_text('include = ["tenants/*.toml"]\n\n[state]\nurl = "sqlite:///s.db"\n',
                                          encoding="utf-8")
    tenant = tmp_path / "tenants" / "bestuur-a.toml"
    tenant.write_text("""\
[tenants.bestuur-a]
name = "Bestuur A"

[tenants.bestuur-a.sources.las]
kind = "csv"
layout = "magister"
path = "export"

[tenants.bestuur-a.targets.fake]
kind = "fake"

[tenants.bestuur-a.targets.fake.schedule]
run_timeout = "half an hour"
""", encoding="utf-8")
    check = check_config(tmp_path / "koppel.toml")
    [problem] = check.problems
    assert (problem.file, problem.line) == (str(tenant), 13)
    assert problem.setting == "tenants.bestuur-a.targets.fake.schedule.run_timeout"
    assert "'half an hour' is not a duration" in problem.message
