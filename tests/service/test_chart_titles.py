"""The run chart's bar titles (tooltips, read by screen readers) say what each bar is — the run's result and
what it did — in the page's language, with plurals and numbers by Babel; a held run does not read as an
ordinary run with "0 wijzigingen" and a status word tacked on."""

from __future__ import annotations

import datetime as dt
import re

from koppel.service.chart import bar_title, render_chart
from koppel.service.i18n import Translator
from koppel.service.models import ChartPoint

NOW = dt.datetime(2026, 12, 5, 18, 0, tzinfo=dt.UTC)
POINTS = [
    ChartPoint(run_id=1, started_at="2026-12-01T13:02:00+00:00", status="succeeded", changes=18907, errors=0),
    ChartPoint(run_id=2, started_at="2026-12-02T13:02:00+00:00", status="partial", changes=1, errors=3),
    ChartPoint(run_id=3, started_at="2026-12-03T13:02:00+00:00", status="failed", changes=0, errors=1),
    ChartPoint(run_id=4, started_at="2026-12-04T13:02:00+00:00", status="held", changes=0, errors=0),
    ChartPoint(run_id=5, started_at="2026-12-05T13:02:00+00:00", status="running", changes=40, errors=0),
]
ENGLISH = ("succeeded", "partly", "failed", "held", "running", "applied", "change", "error", "awaits")
DUTCH = ("geslaagd", "mislukt", "tegengehouden", "bezig", "doorgevoerd", "wijziging", "fout", "goedkeuring")


def _titles(lang: str) -> list[str]:
    svg = str(render_chart(POINTS, now=NOW, days=90, tr=Translator(lang, "Europe/Amsterdam"), label="chart"))
    titles = re.findall(r"<title>(.*?)</title>", svg)
    assert len(titles) == 2 * len(POINTS), "one title per bar, in the wide and the narrow drawing"
    return titles[: len(POINTS)]


def test_each_bar_says_its_result_in_dutch() -> None:
    titles = _titles("nl")
    assert titles[0] == "1 dec 2026 14:02 CET · geslaagd: 18.907 wijzigingen doorgevoerd, 0 fouten"
    assert titles[1] == "2 dec 2026 14:02 CET · deels geslaagd: 1 wijziging doorgevoerd, 3 fouten"
    assert titles[2].endswith("· mislukt: 0 wijzigingen doorgevoerd, 1 fout")
    assert "tegengehouden: het plan wacht op goedkeuring" in titles[3] and "niets doorgevoerd" in titles[3]
    assert "· bezig: tot nu toe 40 wijzigingen doorgevoerd" in titles[4]
    for title in titles:
        assert [w for w in ENGLISH if re.search(rf"\b{w}", title)] == [], title
    assert sum("tegengehouden" in t for t in titles) == 1, "only the held run says it was held"


def test_each_bar_says_its_result_in_english() -> None:
    titles = _titles("en")
    assert titles[0] == "1 Dec 2026 14:02 CET · succeeded: 18,907 changes applied, 0 errors"
    assert titles[1] == "2 Dec 2026 14:02 CET · partly succeeded: 1 change applied, 3 errors"
    assert "held: the plan awaits approval; this run applied nothing" in titles[3]
    for title in titles:
        assert [w for w in DUTCH if w in title] == [], title


def test_an_unknown_result_is_named_as_stored() -> None:
    odd = ChartPoint(run_id=9, started_at="2026-12-05T13:02:00+00:00", status="stopped", changes=2, errors=0)
    assert "· gestopt: 2 wijzigingen doorgevoerd, 0 fouten" in bar_title(odd, Translator("nl", "Europe/Amsterdam"))
    new = odd.model_copy(update={"status": "something-new"})
    assert "· something-new: 2 changes applied" in bar_title(new, Translator("en", "Europe/Amsterdam"))
