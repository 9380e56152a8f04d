"""The plan id of fixed inputs is pinned: a generated school read from its export, planned first against an
empty state and then, after that plan was recorded, against the state with a moved pupil, a dropped subject,
a new teacher, a leaver and a rename. A refactoring of the rules or the plan that changes a single byte of
either plan changes its id and fails here."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from koppel.connectors import ConnectorContext
from koppel.generator import Bestuur, add_teacher, drop_subject, generate, move_pupil, write_layout
from koppel.model import Roster, SchoolYear
from koppel.model.change import Action, ItemOutcome, ItemResult
from koppel.model.desired import Desired
from koppel.plan.engine import diff_index, make_plan
from koppel.plan.model import Plan
from koppel.plan.policy import PlanPolicy
from koppel.plan.state_view import StateView
from koppel.rules.engine import build_desired
from koppel.rules.settings import RulesSettings
from koppel.sources.csv import CsvSource, CsvSourceSettings
from koppel.state.store import StateStore

TODAY = dt.date(2025, 10, 1)
YEAR = SchoolYear(2025)
LINEAGE = "lineage-pinned"


def _desired(bestuur: Bestuur, folder: Path) -> Desired:
    folder.mkdir()
    write_layout(bestuur, folder, "koppel")
    ctx = ConnectorContext(tenant="bestuur", base_dir=folder, env={}, school_year=YEAR)
    roster: Roster = CsvSource("las", CsvSourceSettings(path=str(folder), layout="koppel"), ctx,
                               today=lambda: TODAY).read()
    return build_desired(roster, RulesSettings(), target="its")


def _plan_on(store: StateStore, desired: Desired) -> Plan:
    """A plan on the store's state as the pipeline makes one (lean view, details of what changes), with the
    state's random lineage replaced by a fixed one."""
    view = replace(store.load_view("bestuur", "its"), lineage=LINEAGE)
    diff = diff_index(desired, view, PlanPolicy())
    view = view.with_details(*store.load_details("bestuur", "its", diff.details_needed))
    return make_plan(desired, view, PlanPolicy(), tenant="bestuur", today=TODAY, diff=diff)


def _changed(bestuur: Bestuur) -> Bestuur:
    pupil, other = next((p, k) for p in bestuur.pupils for k in bestuur.klassen
                        if (k.brin6, k.leerjaar, k.onderwijssoort) == (p.brin6, p.leerjaar, p.onderwijssoort)
                        and k.name != p.klas)
    changed = move_pupil(bestuur, pupil.stamnr, other.name)
    cluster = next(g for g in changed.lesgroepen if g.klas is None and len(g.pupils) > 1)
    changed = drop_subject(changed, cluster.pupils[0], cluster.name)
    klasvak = next(g for g in changed.lesgroepen if g.klas is not None)
    changed = add_teacher(changed, klasvak.brin6, "NWD", "Noor", "van 't", "Hof", klasvak.name)
    leaver = changed.pupils[-1]
    renamed = changed.pupils[0]
    pupils = tuple(replace(p, achternaam="Veldhuis-Renamed") if p is renamed else p
                   for p in changed.pupils if p is not leaver)
    groups = tuple(replace(g, pupils=tuple(s for s in g.pupils if s != leaver.stamnr)) for g in changed.lesgroepen)
    return replace(changed, pupils=pupils, lesgroepen=groups)


def test_plan_ids_of_a_generated_school_are_pinned(tmp_path: Path) -> None:
    bestuur = generate(students=400, schools=1, year=YEAR, seed=11)
    first = make_plan(_desired(bestuur, tmp_path / "first"), StateView.empty("bestuur", "its", LINEAGE),
                      PlanPolicy(), tenant="bestuur", today=TODAY)
    assert len(first.changes) > 1000 and {c.action for c in first.changes} == {Action.CREATE}
    assert first.id == "9bbc95843cf7"

    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        run = store.begin_run("bestuur", "its", kind="apply", plan_id=first.id)
        store.record(tenant="bestuur", target="its", run_id=run, plan_id=first.id,
                     outcomes=[(c, ItemResult(c.key, ItemOutcome.DONE)) for c in first.changes])
        assert _plan_on(store, _desired(bestuur, tmp_path / "same")).empty

        second = _plan_on(store, _desired(_changed(bestuur), tmp_path / "second"))
    finally:
        store.close()
    actions = {c.action for c in second.changes}
    assert {Action.CREATE, Action.UPDATE, Action.SUSPEND, Action.DELETE} <= actions
    assert any(c.reason.startswith("moved from") for c in second.changes)
    assert all(c.before for c in second.changes if c.action is not Action.CREATE)
    assert second.id == "4c53124c2e06"
