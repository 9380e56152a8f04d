"""The dashboard's and the notices' words, in Dutch (the default) and English.

One small catalogue instead of gettext files: a few hundred strings, reviewed side by side, and a
test that every key has both languages and that every key a template uses exists. The Dutch texts
use the words of Dutch schools (leerling, docent, klas, lesgroep, schooljaar, systeembeheerder);
the English texts keep those words where they are names of things in the LAS.

Placeholders use ``str.format`` names: ``tr("runs.count", n=3)``.
"""

from __future__ import annotations

from koppel.service.settings import Language

__all__ = ["CATALOGUE", "Translator"]

CATALOGUE: dict[str, tuple[str, str]] = {
    # -- frame ---------------------------------------------------------------------------------
    "app.title": ("koppel", "koppel"),
    "app.tagline": ("De koppeling tussen LAS en itslearning", "The koppeling between LAS and itslearning"),
    "nav.overview": ("Overzicht", "Overview"),
    "nav.plans": ("Plannen", "Plans"),
    "nav.runs": ("Synchronisaties", "Runs"),
    "nav.persons": ("Personen", "People"),
    "nav.quality": ("Datakwaliteit", "Data quality"),
    "nav.config": ("Configuratie", "Configuration"),
    "nav.logout": ("Uitloggen", "Log out"),
    "nav.logged_in_as": ("Ingelogd als {user}", "Logged in as {user}"),
    "nav.language": ("Taal", "Language"),
    "nav.skip": ("Naar de inhoud", "Skip to content"),
    "common.none": ("—", "—"),
    "common.never": ("nooit", "never"),
    "common.yes": ("ja", "yes"),
    "common.no": ("nee", "no"),
    "common.tenant": ("Bestuur / school", "Tenant"),
    "common.target": ("Doelsysteem", "Target"),
    "common.school": ("School", "School"),
    "common.all_schools": ("Alle scholen", "All schools"),
    "common.status": ("Status", "Status"),
    "common.when": ("Wanneer", "When"),
    "common.started": ("Gestart", "Started"),
    "common.finished": ("Klaar", "Finished"),
    "common.trigger": ("Aanleiding", "Trigger"),
    "common.kind": ("Soort", "Kind"),
    "common.action": ("Actie", "Action"),
    "common.count": ("Aantal", "Count"),
    "common.reason": ("Reden", "Reason"),
    "common.message": ("Melding", "Message"),
    "common.details": ("Details", "Details"),
    "common.show": ("Tonen", "Show"),
    "common.search": ("Zoeken", "Search"),
    "common.previous": ("Vorige", "Previous"),
    "common.next": ("Volgende", "Next"),
    "common.page": ("Pagina {page} van {pages}", "Page {page} of {pages}"),
    "common.total": ("Totaal", "Total"),
    "common.by": ("door {who}", "by {who}"),
    "common.json": ("Dezelfde gegevens als JSON", "The same data as JSON"),
    "common.not_found": ("Niet gevonden", "Not found"),
    "common.back": ("Terug", "Back"),
    "common.refreshing": ("Deze pagina ververst zichzelf tot de synchronisatie klaar is.",
                          "This page refreshes itself until the run is done."),
    # -- login ---------------------------------------------------------------------------------
    "login.title": ("Inloggen", "Log in"),
    "login.user": ("Gebruikersnaam", "User name"),
    "login.password": ("Wachtwoord", "Password"),
    "login.submit": ("Inloggen", "Log in"),
    "login.wrong": ("Gebruikersnaam of wachtwoord onjuist.", "Wrong user name or password."),
    "login.throttled": ("Te veel mislukte pogingen. Probeer het over {seconds} seconden opnieuw.",
                        "Too many failed attempts. Try again in {seconds} seconds."),
    "login.hint": ("Een account maakt u met `koppel user add NAAM` op de server.",
                   "Create an account with `koppel user add NAME` on the server."),
    "login.logged_out": ("U bent uitgelogd.", "You are logged out."),
    "login.expired": ("Het formulier was verlopen; probeer het opnieuw.", "The form had expired; please try again."),
    # -- errors --------------------------------------------------------------------------------
    "error.csrf": (("Dit formulier is verlopen of niet van deze site (CSRF-controle). Ga terug, ververs de "
                   "pagina en probeer het opnieuw."),
                   ("This form expired or did not come from this site (CSRF check). Go back, reload the page "
                   "and try again.")),
    "error.title": ("Er ging iets mis", "Something went wrong"),
    "error.not_found": ("Deze pagina bestaat niet.", "This page does not exist."),
    # -- overview ------------------------------------------------------------------------------
    "overview.title": ("Overzicht", "Overview"),
    "overview.last_run": ("Laatste synchronisatie", "Last run"),
    "overview.next_run": ("Volgende synchronisatie", "Next run"),
    "overview.no_schedule": ("geen rooster (alleen handmatig)", "no schedule (manual only)"),
    "overview.schedule_never": ("het rooster laat geen moment toe", "the schedule allows no moment"),
    "overview.schedule": ("Rooster", "Schedule"),
    "overview.held": ("Wacht op goedkeuring", "Awaiting approval"),
    "overview.no_held": ("Geen plannen die op goedkeuring wachten.", "No plans awaiting approval."),
    "overview.objects": ("Beheerde objecten", "Objects managed"),
    "overview.chart": ("Wijzigingen en fouten per synchronisatie, laatste 90 dagen",
                       "Changes and errors per run, last 90 days"),
    "overview.run_now": ("Nu synchroniseren", "Synchronise now"),
    "overview.queued": ("In de wachtrij sinds {at}", "Queued since {at}"),
    "overview.running": ("Bezig sinds {at}", "Running since {at}"),
    "overview.enqueued": ("Synchronisatie in de wachtrij gezet.", "Run queued."),
    "overview.busy": ("Er loopt al een synchronisatie: {what}", "A run is busy: {what}"),
    "overview.last_read": ("Laatste inlezing LAS", "Last LAS read"),
    "overview.disabled": ("uitgeschakeld", "disabled"),
    "overview.no_targets": ("Geen doelsystemen geconfigureerd.", "No targets configured."),
    "overview.open_target": ("Details en uitsplitsing per school", "Details and per-school breakdown"),
    # -- target ----------------------------------------------------------------------------------
    "target.title": ("{tenant} › {target}", "{tenant} › {target}"),
    "target.per_school": ("Per school, laatste 90 dagen", "Per school, last 90 days"),
    "target.changes": ("Wijzigingen", "Changes"),
    "target.errors": ("Fouten", "Errors"),
    "target.runs": ("Recente synchronisaties", "Recent runs"),
    "target.requests": ("Wachtrij en recente verzoeken", "Queue and recent requests"),
    "target.requested_by": ("Aangevraagd door", "Requested by"),
    "target.filter": ("Toon school", "Show school"),
    "chart.empty": ("Nog geen synchronisaties in de laatste 90 dagen.", "No runs in the last 90 days yet."),
    "chart.legend_changes": ("wijzigingen", "changes"),
    "chart.legend_errors": ("fouten", "errors"),
    "chart.scale": ("logaritmische schaal", "logarithmic scale"),
    "chart.bar": ("{at}: {changes} wijzigingen, {errors} fouten", "{at}: {changes} changes, {errors} errors"),
    # -- plans -----------------------------------------------------------------------------------
    "plans.title": ("Plannen", "Plans"),
    "plans.held": ("Wachten op goedkeuring", "Awaiting approval"),
    "plans.recent": ("Recente plannen", "Recent plans"),
    "plans.none": ("Geen plannen.", "No plans."),
    "plans.created": ("Gemaakt", "Created"),
    "plans.summary": ("Samenvatting", "Summary"),
    "plan.title": ("Plan {id}", "Plan {id}"),
    "plan.header": ("Voor {tenant} → {target}, schooljaar {year}, {today}, stand {serial}",
                    "For {tenant} → {target}, school year {year}, {today}, state serial {serial}"),
    "plan.held": ("Dit plan is TEGENGEHOUDEN: het wordt alleen uitgevoerd na goedkeuring.",
                  "This plan is HELD: it applies only with approval."),
    "plan.approve": ("Goedkeuren en uitvoeren", "Approve and apply"),
    "plan.discard": ("Verwerpen", "Discard"),
    "plan.approve_confirm": ("Ik heb de wijzigingen bekeken", "I have reviewed the changes"),
    "plan.approved_queued": ("Goedgekeurd door {who}; het plan wordt uitgevoerd.",
                             "Approved by {who}; the plan is being applied."),
    "plan.discarded": ("Plan verworpen door {who}.", "Plan discarded by {who}."),
    "plan.decided": ("{status} door {who} op {at}", "{status} by {who} at {at}"),
    "plan.approved_by": ("Goedgekeurd door {who} op {at}", "Approved by {who} at {at}"),
    "plan.per_kind": ("Per soort", "Per kind"),
    "plan.per_school": ("Per school", "Per school"),
    "plan.changes": ("Wijzigingen", "Changes"),
    "plan.no_changes": ("Geen wijzigingen: het doelsysteem loopt gelijk met het LAS.",
                        "No changes. The target is in step with the LAS."),
    "plan.notes": ("Opmerkingen", "Notes"),
    "plan.safety": ("Veiligheidsinstellingen", "Safety settings"),
    "plan.data_quality": ("Datakwaliteit: {counts} in de brongegevens.", "Data quality: {counts} in the source data."),
    "plan.filter": ("Filter", "Filter"),
    "plan.all_actions": ("Alle acties", "All actions"),
    "plan.fields": ("{field}: {before} → {after}", "{field}: {before} → {after}"),
    "plan.not_actionable": ("Dit plan kan niet meer worden goedgekeurd (status: {status}).",
                            "This plan can no longer be approved (status: {status})."),
    "plan.pending": ("Uitvoering in de wachtrij of bezig (verzoek {id}).", "Being applied or queued (request {id})."),
    "plan.summary_line": (("{create} aanmaken, {update} bijwerken, {suspend} opschorten, {restore} herstellen, "
                          "{archive} archiveren, {delete} verwijderen"),
                          ("{create} to create, {update} to update, {suspend} to suspend, {restore} to restore, "
                          "{archive} to archive, {delete} to delete")),
    # -- runs --------------------------------------------------------------------------------------
    "runs.title": ("Synchronisaties", "Runs"),
    "runs.none": ("Nog geen synchronisaties.", "No runs yet."),
    "runs.outcome": ("Resultaat", "Outcome"),
    "run.title": ("Synchronisatie {id}", "Run {id}"),
    "run.problems": ("Fouten en waarschuwingen per object", "Per-object errors and warnings"),
    "run.no_problems": ("Geen fouten of waarschuwingen.", "No errors or warnings."),
    "run.description": ("Omschrijving van het doelsysteem", "The target's description"),
    "run.code": ("Code", "Code"),
    "run.object": ("Object", "Object"),
    "run.plan": ("Plan", "Plan"),
    "run.approved_by": ("Goedgekeurd door", "Approved by"),
    "run.outcomes": ("Uitkomsten", "Outcomes"),
    # -- persons -------------------------------------------------------------------------------------
    "persons.title": ("Personen", "People"),
    "persons.query": ("Naam, leerlingnummer of docentcode", "Name, leerlingnummer or docentcode"),
    "persons.none": ("Niemand gevonden voor “{q}”.", "Nobody found for “{q}”."),
    "persons.hint": ("Zoek een leerling of docent om te zien wat koppel met hem of haar deed, en waarom.",
                     "Search a pupil or teacher to see what koppel did with them, and why."),
    "persons.name": ("Naam", "Name"),
    "persons.ids": ("Nummers", "Identifiers"),
    "person.title": ("Tijdlijn van {name}", "Timeline of {name}"),
    "person.now": ("Nu: {status}", "Now: {status}"),
    "person.no_history": ("Nog geen wijzigingen vastgelegd.", "No changes recorded yet."),
    "person.why": ("Waarom", "Why"),
    "person.outcome": ("Uitkomst", "Outcome"),
    # -- quality -------------------------------------------------------------------------------------
    "quality.title": ("Datakwaliteit", "Data quality"),
    "quality.none": ("Nog geen inlezing van het LAS vastgelegd.", "No LAS read recorded yet."),
    "quality.read": ("Inlezing van {at}: {status}, schooljaar {year}", "Read at {at}: {status}, school year {year}"),
    "quality.counts": ("Ingelezen", "Read"),
    "quality.findings": ("Bevindingen", "Findings"),
    "quality.no_findings": ("Geen bevindingen: de gegevens zijn in orde.", "No findings: the data is fine."),
    "quality.severity": ("Ernst", "Severity"),
    "quality.where": ("Waar", "Where"),
    "quality.check": ("Controle", "Check"),
    "quality.sources": ("Bronnen", "Sources"),
    "quality.errors_warnings": ("{errors} fout(en), {warnings} waarschuwing(en)", "{errors} error(s), {warnings} warning(s)"),
    # -- config --------------------------------------------------------------------------------------
    "config.title": ("Configuratie", "Configuration"),
    "config.readonly": (("Alleen-lezen. Geheimen zijn gemaskeerd; alleen waar ze vandaan komen is zichtbaar. "
                        "Wijzig koppel.toml op de server en herstart `koppel serve`."),
                        ("Read-only. Secrets are masked; only where they come from is shown. Change koppel.toml on "
                        "the server and restart `koppel serve`.")),
    "config.file": ("Bestand", "File"),
    "config.schedules": ("Roosters", "Schedules"),
    "config.notifications": ("Meldingen", "Notifications"),
    "config.recent_notices": ("Recent verstuurde meldingen", "Recently sent notices"),
    # -- statuses and words from the store -------------------------------------------------------
    "status.running": ("bezig", "running"),
    "status.succeeded": ("geslaagd", "succeeded"),
    "status.partial": ("deels geslaagd", "partly succeeded"),
    "status.failed": ("mislukt", "failed"),
    "status.held": ("tegengehouden", "held"),
    "status.stopped": ("gestopt", "stopped"),
    "status.saved": ("bewaard", "saved"),
    "status.applied": ("uitgevoerd", "applied"),
    "status.discarded": ("verworpen", "discarded"),
    "status.stale": ("verouderd", "stale"),
    "status.queued": ("in de wachtrij", "queued"),
    "status.done": ("klaar", "done"),
    "status.skipped": ("overgeslagen", "skipped"),
    "status.warning": ("waarschuwing", "warning"),
    "status.active": ("actief", "active"),
    "status.suspended": ("opgeschort", "suspended"),
    "status.archived": ("gearchiveerd", "archived"),
    "status.deleted": ("verwijderd", "deleted"),
    "status.ok": ("in orde", "ok"),
    "status.invalid": ("te veel fouten", "too many errors"),
    "status.sent": ("verstuurd", "sent"),
    "action.create": ("aanmaken", "create"),
    "action.update": ("bijwerken", "update"),
    "action.suspend": ("opschorten", "suspend"),
    "action.restore": ("herstellen", "restore"),
    "action.archive": ("archiveren", "archive"),
    "action.delete": ("verwijderen", "delete"),
    "action.adopt": ("overnemen", "adopt"),
    "kind.person": ("persoon", "person"),
    "kind.group": ("groep", "group"),
    "kind.membership": ("lidmaatschap", "membership"),
    "trigger.schedule": ("rooster", "schedule"),
    "trigger.manual": ("handmatig", "manual"),
    "trigger.api": ("API", "API"),
    "trigger.cli": ("opdrachtregel", "command line"),
    "trigger.demo": ("demo", "demo"),
    "request.sync": ("synchroniseren", "synchronise"),
    "request.approve": ("goedgekeurd plan uitvoeren", "apply approved plan"),
    "severity.error": ("fout", "error"),
    "severity.warning": ("waarschuwing", "warning"),
    "severity.info": ("info", "info"),
    # -- notices (e-mail and webhook) ------------------------------------------------------------
    "notice.subject.run_failed": ("koppel: synchronisatie mislukt voor {tenant} → {target}",
                                  "koppel: run failed for {tenant} → {target}"),
    "notice.subject.plan_held": ("koppel: plan wacht op goedkeuring voor {tenant} → {target}",
                                 "koppel: plan awaits approval for {tenant} → {target}"),
    "notice.intro.run_failed": ("De synchronisatie van {tenant} naar {target} is mislukt.",
                                "The run from {tenant} to {target} failed."),
    "notice.intro.plan_held": (("Een plan voor {tenant} → {target} is tegengehouden door een veiligheidsgrens en "
                               "wordt pas uitgevoerd als iemand het goedkeurt."),
                               ("A plan for {tenant} → {target} was held by a safety limit and applies only when "
                               "someone approves it.")),
    "notice.link": ("Bekijk het hier: {link}", "See it here: {link}"),
    "notice.footer": ("— koppel (dit bericht is automatisch verstuurd)", "— koppel (this message was sent automatically)"),
}


class Translator:
    """``tr(key, **values)`` in one language; unknown keys show as the key (and a test forbids them)."""

    def __init__(self, language: Language | str):
        self.language = Language(language)
        self._index = 0 if self.language is Language.NL else 1

    def __call__(self, key: str, **values: object) -> str:
        entry = CATALOGUE.get(key)
        if entry is None:
            return key
        text = entry[self._index]
        return text.format(**values) if values else text

    def word(self, group: str, value: str | None) -> str:
        """A stored status or action in this language: ``word("status", "held")`` → ``tegengehouden``."""
        if value is None:
            return CATALOGUE["common.none"][self._index]
        entry = CATALOGUE.get(f"{group}.{value}")
        return entry[self._index] if entry else value
