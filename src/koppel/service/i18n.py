"""The dashboard's and the notices' words, in Dutch (the default) and English.

One small catalogue instead of gettext files: a few hundred strings, reviewed side by side, and a
test that every key has both languages and that every key a template uses exists. The Dutch texts
use the words of Dutch schools (leerling, docent, klas, lesgroep, schooljaar, systeembeheerder);
the English texts keep those words where they are names of things in the LAS.

Placeholders use ``str.format`` names: ``tr("runs.count", n=3)``.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from koppel.service.settings import Language

__all__ = ["CATALOGUE", "CHECKS_NL", "PLURALS", "Translator"]

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
    "login.hint": ("Een account maakt u met `koppel user add NAAM --role ROL` op de server.",
                   "Create an account with `koppel user add NAME --role ROLE` on the server."),
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
    # -- the run chart's bar titles: what each bar is, per result (chart.py) ---------------------------
    "chart.bar.succeeded": ("{at} · geslaagd: {changes} doorgevoerd, {errors}",
                            "{at} · succeeded: {changes} applied, {errors}"),
    "chart.bar.partial": ("{at} · deels geslaagd: {changes} doorgevoerd, {errors}",
                          "{at} · partly succeeded: {changes} applied, {errors}"),
    "chart.bar.failed": ("{at} · mislukt: {changes} doorgevoerd, {errors}",
                         "{at} · failed: {changes} applied, {errors}"),
    "chart.bar.held": ("{at} · tegengehouden: het plan wacht op goedkeuring; in deze synchronisatie is niets "
                       "doorgevoerd ({changes}, {errors})",
                       "{at} · held: the plan awaits approval; this run applied nothing ({changes}, {errors})"),
    "chart.bar.running": ("{at} · bezig: tot nu toe {changes} doorgevoerd, {errors}",
                          "{at} · running: {changes} applied so far, {errors}"),
    "chart.bar.stopped": ("{at} · gestopt: {changes} doorgevoerd, {errors}",
                          "{at} · stopped: {changes} applied, {errors}"),
    "chart.bar.other": ("{at} · {status}: {changes} doorgevoerd, {errors}",
                        "{at} · {status}: {changes} applied, {errors}"),
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
    # a plan's safety settings (PlanPolicy.to_json), in words
    "policy.grace": ("Wachttijd voor verwijderen", "Grace period before removal"),
    "policy.grace_one": ("{who}: {days} dagen", "{who}: {days} days"),
    "policy.absent_groups": ("Groepen die uit het LAS verdwijnen", "Groups gone from the LAS"),
    "policy.archived_memberships": ("Leden van gearchiveerde groepen", "Members of archived groups"),
    "policy.guards": ("Tegenhouden boven", "Hold above"),
    "policy.guards_value": ("{percent}% of {count} verwijderingen per soort (vanaf {min})",
                            "{percent}% or {count} removals per kind (from {min})"),
    "policy.jaarovergang": ("Jaarovergang altijd tegenhouden", "Always hold a jaarovergang"),
    "policy.protected": ("Niet door koppel beheerd", "Not owned by koppel"),
    "policy_value.archive": ("archiveren", "archive"),
    "policy_value.delete": ("verwijderen", "delete"),
    "policy_value.keep": ("blijven lid", "stay members"),
    "policy_value.remove": ("worden verwijderd", "are removed"),
    "policy_value.keep-teachers": ("docenten blijven, leerlingen worden verwijderd",
                                   "teachers stay, pupils are removed"),
    # what happened, for a timeline: "persoon aangemaakt", "person created"
    "done.create": ("aangemaakt", "created"),
    "done.update": ("bijgewerkt", "updated"),
    "done.suspend": ("opgeschort", "suspended"),
    "done.restore": ("hersteld", "restored"),
    "done.archive": ("gearchiveerd", "archived"),
    "done.delete": ("verwijderd", "deleted"),
    "done.adopt": ("overgenomen", "adopted"),
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
    # -- B2: words for codes the core stores, empty states, setup help --------------------------
    "kind.persons": ("personen", "persons"),
    "kind.groups": ("groepen", "groups"),
    "kind.memberships": ("lidmaatschappen", "memberships"),
    "kind.schools": ("scholen", "schools"),
    "kind.persons.student": ("leerlingen", "pupils"),
    "kind.persons.staff": ("medewerkers", "staff"),
    "kind.persons.teacher": ("docenten", "teachers"),
    "kind.persons.parent": ("ouders", "parents"),
    "kind.persons.guardian": ("verzorgers", "guardians"),
    "guard.removals": ("verwijderingen", "removals"),
    "guard.cleared-fields": ("geleegde velden", "cleared fields"),
    "guard.accent-renames": ("accentwijzigingen", "accent renames"),
    "guard.jaarovergang": ("jaarovergang", "jaarovergang"),
    "guard.takeover-stale": ("overname", "takeover"),
    "error.unauthorized": ("U bent niet ingelogd, of uw sessie is verlopen. Log opnieuw in.",
                           "You are not logged in, or your session expired. Log in again."),
    "error.invalid": ("Deze pagina bestaat niet: het adres klopt niet.",
                      "This page does not exist: the address is not valid."),
    "error.no_plan": ("Er is geen plan {id}.", "There is no plan {id}."),
    "error.no_run": ("Er is geen synchronisatie {id}.", "There is no run {id}."),
    "error.no_tenant": ("Er is geen bestuur of school {id} in koppel.toml.", "There is no tenant {id} in koppel.toml."),
    "error.no_target": ("Er is geen doelsysteem {id} bij {tenant} in koppel.toml.",
                        "There is no target {id} in tenant {tenant} in koppel.toml."),
    "error.no_person": ("Er is geen persoon {id} bij {tenant}.", "There is no person {id} in tenant {tenant}."),
    "error.no_request": ("Er is geen verzoek {id}.", "There is no request {id}."),
    "error.refused": ("Dat kan nu niet: {why}", "That is not possible now: {why}"),
    "error.status": ("Het verzoek kon niet worden verwerkt (HTTP {status}).",
                     "The request could not be handled (HTTP {status})."),
    "help.no_schedule": (("Er is geen rooster: koppel synchroniseert alleen als iemand op „Nu synchroniseren” "
                          "drukt of `koppel sync` draait. Een rooster voegt u toe in koppel.toml, in de sectie "
                          "van het doelsysteem:"),
                         ("There is no schedule: koppel runs only when someone presses “Synchronise now” or runs "
                          "`koppel sync`. Add a schedule to koppel.toml, in the target's section:")),
    "help.no_runs": (("Nog geen synchronisaties. Start er een met „Nu synchroniseren” op het overzicht, of op de "
                      "server met `koppel plan` (alleen bekijken) en `koppel sync`."),
                     ("No runs yet. Start one with “Synchronise now” on the overview, or on the server with "
                      "`koppel plan` (only a preview) and `koppel sync`.")),
    "help.no_users": (("Nog geen account? Maak er een op de server met `koppel user add NAAM --role admin`; die "
                       "vraagt om een wachtwoord."),
                      ("No account yet? Create one on the server with `koppel user add NAME --role admin`; it asks "
                       "for a password.")),
    "help.no_read": (("Nog geen inlezing van het LAS. Controleer de export met `koppel validate` en lees hem in "
                      "met `koppel plan` of een synchronisatie."),
                     ("No LAS read yet. Check the export with `koppel validate` and read it with `koppel plan` or a "
                      "run.")),
    "help.no_targets": (("Geen doelsystemen. Voeg er een toe in koppel.toml onder [tenants.NAAM.targets.NAAM] "
                         "en herstart `koppel serve`."),
                        ("No targets. Add one to koppel.toml under [tenants.NAME.targets.NAME] and restart "
                         "`koppel serve`.")),
    "help.no_notifications": (("Er zijn nog geen meldingen verstuurd. Stel e-mail of een webhook in onder "
                               "[service.email] of [service.webhook] in koppel.toml, dan hoort u het als een "
                               "plan op goedkeuring wacht of een synchronisatie mislukt."),
                              ("No notices sent yet. Set up e-mail or a webhook under [service.email] or "
                               "[service.webhook] in koppel.toml to hear when a plan awaits approval or a run "
                               "fails.")),
    "help.cron": ("elk uur; of: interval = \"2h\"", "every hour; or: interval = \"2h\""),
    "help.windows": ("alleen binnen deze tijden", "only within these times"),
    "help.more": ("Meer in `{doc}` (Schedules en Notifications), en in de configuratie:",
                  "More in `{doc}` (Schedules and Notifications), and in the configuration:"),
    "event.run_failed": ("synchronisatie mislukt", "run failed"),
    "event.plan_held": ("plan wacht op goedkeuring", "plan awaits approval"),
    "config.unreadable": ("Het bestand kon niet worden gelezen: {why}", "The file could not be read: {why}"),
    "quality.message": ("Toelichting", "Explanation"),
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
    # == B1: plan review, approval, progress, explain (issue 12 items 3, 4, 5, 7, 10) ==================
    "overview.already_queued": ("Er staat al een synchronisatie klaar (of ze loopt al); er is geen tweede "
                                "aangevraagd.", "A run is already queued (or running); no second one was asked for."),
    "plan.not_found": ("Plan {id} bestaat niet. Kijk bij Plannen welke plannen er zijn.",
                       "There is no plan {id}. See Plans for the plans there are."),
    "plan.superseded": ("Dit plan is vervangen door een nieuwer plan: {id}. Alleen dat plan kan worden goedgekeurd.",
                        "A newer plan replaced this one: {id}. Only that plan can be approved."),
    "plan.being_applied": ("Goedgekeurd; het plan wordt uitgevoerd.", "Approved; the plan is being applied."),
    "plan.removals": ("Verwijderingen en opschortingen eerst", "Removals first"),
    "plan.removals_count": ("{shown} van {total} getoond.", "{shown} of {total} shown."),
    "plan.more_refine": ("Nog {n} — verfijn de zoekopdracht om ze te zien.", "{n} more — refine the search to see them."),
    "plan.samples": ("Een steekproef van elke actie en soort", "A sample of every action and kind"),
    "plan.sample_of": ("{action} {kind}: {shown} van {total}", "{action} {kind}: {shown} of {total}"),
    "plan.per_klas": ("Per klas (personen en hun lidmaatschappen)", "Per klas (persons and their memberships)"),
    "plan.more_klassen": ("Nog {n} klassen — zoek op een klas om die te zien.",
                          "{n} more klassen — search a klas to see it."),
    "plan.no_klas": ("(geen klas)", "(no klas)"),
    "plan.search": ("Zoek in het hele plan", "Search the whole plan"),
    "plan.search_hint": ("Naam, leerlingnummer, docentcode, klas of vak", "Name, leerlingnummer, docentcode, klas or course"),
    "plan.found": ("{n} wijzigingen gevonden voor “{q}”.", "{n} changes found for “{q}”."),
    "plan.found_none": ("Geen wijzigingen gevonden voor “{q}”.", "No changes found for “{q}”."),
    "plan.filtered": ("{n} wijzigingen met dit filter.", "{n} changes match this filter."),
    "plan.person": ("Persoon", "Person"),
    "plan.group": ("Groep", "Group"),
    "plan.object": ("Wat", "What"),
    "approve.title": ("Plan {id} goedkeuren?", "Approve plan {id}?"),
    "approve.will": ("Na goedkeuring voert koppel dit plan meteen uit in {tenant} → {target}:",
                     "Once approved, koppel applies this plan to {tenant} → {target} at once:"),
    "approve.count": ("{n} {action}", "{n} to {action}"),
    "approve.removals": ("Daarvan zijn {n} verwijderingen of opschortingen: leerlingen en docenten verliezen "
                         "toegang of lidmaatschappen.",
                         "{n} of them are removals or suspensions: pupils and teachers lose access or memberships."),
    "approve.holds": ("Het plan werd tegengehouden omdat:", "The plan was held because:"),
    "approve.yes": ("Ja, goedkeuren en uitvoeren", "Yes, approve and apply"),
    "approve.no": ("Nee, terug naar het plan", "No, back to the plan"),
    "approve.open": ("Goedkeuren en uitvoeren…", "Approve and apply…"),
    "refused.generic": ("Dit kan nu niet: {message}", "This is not possible now: {message}"),
    "refused.disabled": ("Doelsysteem {target} is uitgeschakeld in de configuratie.",
                         "Target {target} is disabled in the configuration."),
    "refused.superseded": ("Plan {id} is vervangen door plan {newer}; bekijk en keur dat plan goed.",
                           "Plan {id} was superseded by plan {newer}; review and approve that one."),
    "refused.status": ("Plan {id} wacht niet meer op goedkeuring (status: {status}); alleen een tegengehouden "
                       "plan kan worden goedgekeurd of verworpen.",
                       "Plan {id} no longer awaits approval (status: {status}); only a held plan can be approved or "
                       "discarded."),
    "refused.approved": ("Plan {id} is al goedgekeurd door {by} en wordt uitgevoerd.",
                         "Plan {id} is already approved by {by} and being applied."),
    "status.superseded": ("vervangen", "superseded"),
    "plans.superseded_by": ("door plan {id}", "by plan {id}"),
    "status.approving": ("goedgekeurd, in uitvoering", "approved, being applied"),
    "progress.planning": ("LAS lezen en plannen", "reading the LAS and planning"),
    "progress.applying": ("wijzigingen doorvoeren", "applying the changes"),
    "progress.phase": ("Fase: {phase}", "Phase: {phase}"),
    "progress.count": ("{done} van {total} wijzigingen ({percent}%)", "{done} of {total} changes ({percent}%)"),
    "lock.busy": ("Bezig sinds {since}, gestart door {who}.", "Busy since {since}, started by {who}."),
    "lock.by_request": ("{who} ({trigger})", "{who} ({trigger})"),
    "lock.by_schedule": ("het rooster", "the schedule"),
    "lock.by_other": ("de opdrachtregel of een andere koppel (koppel {purpose} op {host}, proces {pid})",
                      "the command line or another koppel (koppel {purpose} on {host}, process {pid})"),
    "person.explain": ("Waarom (niet) in een groep?", "Why (not) in a group?"),
    "person.explain_group": ("Waarom niet in …? (lesgroep, klas of vak)", "Why not in …? (lesgroep, klas or course)"),
    "person.explain_all": ("Leg alle groepen uit", "Explain all groups"),
    "person.explain_submit": ("Uitleggen", "Explain"),
    "person.explain_error": ("Geen uitleg mogelijk: {message}", "No explanation possible: {message}"),
    "person.groups_now": ("Groepen nu", "Groups now"),
    "person.no_groups": ("Volgens koppel in geen enkele groep.", "In no group, as far as koppel knows."),
    "person.pending": ("Wachtende wijzigingen in plannen", "Pending changes in plans"),
    "person.no_pending": ("Geen wachtende wijzigingen.", "No pending changes."),
    "person.answers": ("Waarom (niet)", "Why (not)"),
    "person.no_answers": ("Niets uit te leggen: de persoon zit in elke groep waar het LAS hem of haar plaatst.",
                          "Nothing to explain: the person is in every group the LAS places them in."),
    "person.role": ("Rol", "Role"),
    "person.source": ("Bron", "Source"),
    "person.school_year": ("Schooljaar {year}", "School year {year}"),
    "verdict.member": ("Zit in deze groep.", "In this group."),
    "verdict.planned": ("Het LAS plaatst de persoon hier; de volgende synchronisatie voegt het lidmaatschap toe.",
                        "The LAS places the person here; the next run adds the membership."),
    "verdict.held": ("Het LAS plaatst de persoon hier, maar het plan dat dit toevoegt is tegengehouden.",
                     "The LAS places the person here, but the plan that adds it is held."),
    "verdict.refused": ("Het platform weigerde dit lidmaatschap bij de vorige synchronisatie.",
                        "The platform refused this membership in the last run."),
    "verdict.removal-planned": ("Het LAS plaatst de persoon hier niet meer; de volgende synchronisatie haalt hem of "
                                "haar eruit.", "The LAS no longer places the person here; the next run removes them."),
    "verdict.not-in-vakken": ("Het vak van deze lesgroep staat niet in de Vakken van de leerling.",
                              "The lesgroep's vak is not in the pupil's Vakken."),
    "verdict.not-placed": ("Het LAS plaatst de persoon niet in deze groep.", "The LAS does not place the person in this group."),
    "verdict.no-lesgroep": ("Zo'n lesgroep of klas staat niet in het LAS-bestand.",
                            "No such lesgroep or klas is declared in the LAS export."),
    "verdict.filtered": ("Een filter in de regels van het doelsysteem laat dit weg.",
                         "A filter of the target's rules leaves it out."),
    "verdict.rule": ("Een regel van het doelsysteem maakt dit lidmaatschap niet.", "A rule of the target does not make this membership."),
    "verdict.one-role": ("De persoon heeft al een sterkere rol in deze groep (één rol per groep).",
                         "The person already has a stronger role in this group (one role per group)."),
    # == end of B1's section =========================================================================
    # == roles per tenant (issue 13, task B) ==========================================================
    "role.forbidden": (("Hiervoor is de rol {role} (of hoger) nodig bij {tenant}; u heeft die niet. Vraag een "
                        "beheerder om `koppel user grant`."),
                       ("This needs the role {role} (or higher) on {tenant}, which you do not have. Ask an "
                        "administrator for `koppel user grant`.")),
    "role.viewer": ("kijker (viewer)", "viewer"),
    "role.operator": ("operator", "operator"),
    "role.approver": ("goedkeurder (approver)", "approver"),
    "role.admin": ("beheerder (admin)", "admin"),
    "config.partial": (("U ziet alleen de besturen waarop u een rol heeft, niet het hele bestand: dat bevat ook "
                        "andere besturen."),
                       ("You see only the tenants you have a role on, not the whole file: it holds other tenants "
                        "too.")),
    # == end of roles per tenant =====================================================================
    # == workers: the queue view and the backoff (issue 13, task D) ===================================
    "job.waiting": ("wacht op een worker", "waiting for a worker"),
    "job.running": ("draait op worker {worker} sinds {at}", "running on worker {worker} since {at}"),
    "job.retrying": ("nieuwe poging (poging {n}) om {at}", "to be retried (attempt {n}) at {at}"),
    "job.failed": ("de taak is mislukt in de wachtrij", "the job failed in the queue"),
    "job.missing": (("de taak is uit de wachtrij verdwenen: geen worker zal dit uitvoeren; vraag het opnieuw"),
                    ("its job vanished from the queue: no worker will run this; ask again")),
    "overview.backoff": (("Mislukt op rij: {n}. Het rooster wacht tot {until}; nu synchroniseren kan altijd."),
                         ("Failed in a row: {n}. The schedule waits until {until}; running it now is always "
                          "possible.")),
    # == end of workers ==============================================================================
}


# Plural forms, chosen by Babel's plural rules for the language (``Locale.plural_form``): ``{n}`` is the
# number, already formatted for the language. Dutch and English both have "one" and "other".
PLURALS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "n.errors": ({"one": "{n} fout", "other": "{n} fouten"}, {"one": "{n} error", "other": "{n} errors"}),
    "n.warnings": ({"one": "{n} waarschuwing", "other": "{n} waarschuwingen"},
                   {"one": "{n} warning", "other": "{n} warnings"}),
    "n.person": ({"one": "{n} persoon", "other": "{n} personen"}, {"one": "{n} person", "other": "{n} persons"}),
    "n.group": ({"one": "{n} groep", "other": "{n} groepen"}, {"one": "{n} group", "other": "{n} groups"}),
    "n.membership": ({"one": "{n} lidmaatschap", "other": "{n} lidmaatschappen"},
                     {"one": "{n} membership", "other": "{n} memberships"}),
    "n.school": ({"one": "{n} school", "other": "{n} scholen"}, {"one": "{n} school", "other": "{n} schools"}),
    "n.changes": ({"one": "{n} wijziging", "other": "{n} wijzigingen"}, {"one": "{n} change", "other": "{n} changes"}),
    "n.masked": ({"one": "{n} geheime waarde gemaskeerd", "other": "{n} geheime waarden gemaskeerd"},
                 {"one": "{n} secret value masked", "other": "{n} secret values masked"}),
    "n.accounts": ({"one": "{n} account", "other": "{n} accounts"}, {"one": "{n} account", "other": "{n} accounts"}),
    "n.days": ({"one": "{n} dag", "other": "{n} dagen"}, {"one": "{n} day", "other": "{n} days"}),
}

# What each data-quality check means, in Dutch (the English titles are the checks' own, in
# koppel.validation.checks). The dashboard shows these instead of the core's English message in a Dutch page.
CHECKS_NL: dict[str, str] = {
    "unknown-person": "lidmaatschap van een persoon die niet in de export staat",
    "unknown-group": "lidmaatschap van een groep die niet in de export staat",
    "duplicate-membership": "dezelfde persoon, groep en rol meer dan eens",
    "duplicate-leerlingnummer": "twee leerlingen van één school met hetzelfde leerlingnummer",
    "duplicate-docentcode": "twee medewerkers van één school met dezelfde docentcode",
    "missing-name": "persoon zonder roepnaam of achternaam",
    "invalid-email": "e-mailadres dat niet geldig kan zijn",
    "invalid-eckid": "ECK iD niet in de vorm https://ketenid.nl/…/<128 hex>",
    "mojibake": "naam die eruitziet als UTF-8 gelezen als Windows-1252 (NoÃ«lle)",
    "pupil-without-klas": "leerling die in geen enkele klas (stamgroep) zit",
    "group-without-teacher": "lesgroep met leerlingen maar zonder docent",
    "group-without-pupils": "klas of lesgroep zonder leerlingen",
    "unknown-parent": "groep waarvan de bovenliggende groep niet in de export staat",
    "unknown-column": "kolom die de indeling niet gebruikt",
    "misspelt-column": "kolom die lijkt op een verkeerd gespelde bekende kolom",
    "duplicate-column": "kolom voor een veld dat een eerdere kolom al gaf",
    "short-row": "regel met minder waarden dan de kopregel",
    "long-row": "regel met meer waarden dan de kopregel",
    "malformed-row": "regel met kapotte aanhalingstekens",
    "field-too-long": "waarde langer dan koppel toestaat; regel weggelaten",
    "bad-character": "waarde met een stuur- of bidi-teken; regel weggelaten",
    "invalid-utf8": "byte die geen UTF-8 is in een UTF-8-bestand, gelezen als Windows-1252",
    "missing-value": "regel zonder sleutel (stamnummer, id)",
    "duplicate-number": "stamnummer twee keer in één school; de latere regel is weggelaten",
    "duplicate-id": "id twee keer; de latere regel is weggelaten",
    "duplicate-person": "twee regels voor één ECK iD; de latere regel is weggelaten",
    "unknown-location": "locatie niet gekoppeld aan een school; regel weggelaten",
    "unlisted-school": "schoolmap die niet in het scholenbestand staat",
    "bad-brin6": "schoolcode die geen BRIN6 is",
    "bad-school-year": "schooljaar dat niet te lezen is; regel weggelaten",
    "other-school-year": "regels van een ander schooljaar, weggelaten",
    "school-year-mismatch": "de export beschrijft een ander schooljaar dan koppel gebruikt (een verouderde export?)",
    "bad-leerjaar": "leerjaar dat geen getal is",
    "unknown-klas": "verwijzing naar een klas waar geen leerling in zit; weggelaten",
    "bad-klasvak": "klasvak niet in de vorm <klas>.<vak>",
    "unknown-mentor": "mentorcode die geen docentcode is",
    "unknown-kind": "onbekende soort; regel weggelaten",
    "unknown-role": "onbekende rol; regel weggelaten",
    "ambiguous-group": "groeps-id in meerdere scholen; regel weggelaten",
    "bad-date": "datum die niet te lezen is; regel weggelaten",
    "name-conflict": "één persoon met verschillende namen in twee bronnen",
    "unknown-group-ref": "verwijzing naar een groep die het LAS niet leverde; weggelaten",
    "unknown-jaargroep": "jaargroep buiten de EDEXML-codelijst",
    "unknown-rol": "rol van een leerkracht die niet aan docent of mentor is gekoppeld",
    "unnamed-group": "groep zonder naam; de sleutel wordt gebruikt",
    "pupil-left": "leerling met een verstreken uitstroomdatum; weggelaten",
    "two-roles": "één persoon met twee rollen in één groep; de sterkste blijft",
    "empty-username": "sjabloon voor de gebruikersnaam gaf niets; een terugvaloptie is gebruikt",
}

_BABEL_LOCALE = {Language.NL: "nl_NL", Language.EN: "en_GB"}
_ISO_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_KINDS_NL = {"persons": "personen", "groups": "groepen", "memberships": "lidmaatschappen",
             "person": "persoon", "group": "groep", "membership": "lidmaatschap"}
_SENT_NL = {"a create": "een aanmaak", "an update": "een wijziging", "a restore": "een herstel",
            "a suspension": "een opschorting", "an archive": "een archivering", "a deletion": "een verwijdering"}

# The core's English texts that reach the dashboard (plan reasons, guard holds, run and request
# messages), part by part (a reason joins its parts with "; "), as a pattern and its Dutch. The core keeps
# English (logs, CLI, API); the dashboard and the notices say it in the page's language. A part no
# pattern knows is shown as it is.
_DUTCH: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), nl) for p, nl in (
    (r"^new in the LAS$", "nieuw in het LAS"),
    (r"^no longer in the LAS$", "niet meer in het LAS"),
    (r"^found on the platform when koppel took it over, with no LAS person$",
     "op het platform gevonden toen koppel het overnam, zonder persoon in het LAS"),
    (r"^back in the LAS \(deleted after absence since (?P<d>.+)\)$",
     "terug in het LAS (verwijderd na afwezigheid sinds {d})"),
    (r"^back in the LAS \(absent since (?P<d>.+)\)$", "terug in het LAS (afwezig sinds {d})"),
    (r"^back in the LAS$", "terug in het LAS"),
    (r"^was suspended$", "was opgeschort"),
    (r"^was archived$", "was gearchiveerd"),
    (r"^absent from the LAS since (?P<d>\S+)$", "afwezig in het LAS sinds {d}"),
    (r"^delete after (?P<d>\S+) \((?P<n>\d+) days' grace\)$", "verwijderen na {d} ({n} dagen uitsteltermijn)"),
    (r"^grace period ended on (?P<d>\S+)$", "uitsteltermijn verstreken op {d}"),
    (r"^school year (?P<y>\S+) ended \(jaarovergang\)$", "schooljaar {y} is voorbij (jaarovergang)"),
    (r"^moved from (?P<a>.+) to (?P<b>.+)$", "overgestapt van {a} naar {b}"),
    (r"^(?P<r>.+) \(with the move from (?P<a>.+) to (?P<b>.+)\)$", "{r} (met de overstap van {a} naar {b})"),
    (r"^changed in the LAS: (?P<f>.+)$", "gewijzigd in het LAS: {f}"),
    (r"^changed by hand in the platform, set back to the LAS's value \(the LAS is leading\): (?P<f>.+)$",
     "met de hand gewijzigd op het platform, teruggezet naar de waarde uit het LAS (het LAS is leidend): {f}"),
    (r"^kept \(not owned by koppel\): (?P<f>.+)$", "behouden (niet beheerd door koppel): {f}"),
    (r"^kept: changed in the platform \(not owned by koppel\): (?P<f>.+)$",
     "behouden: gewijzigd op het platform (niet beheerd door koppel): {f}"),
    (r"^an earlier run sent (?P<s>an? \w+) and could not record the platform's answer$",
     "een eerdere synchronisatie stuurde {s} en kon het antwoord van het platform niet vastleggen"),
    (r"^created again as the LAS has it$", "opnieuw aangemaakt zoals het LAS het heeft"),
    (r"^restored, as it is in the LAS$", "hersteld, zoals het in het LAS staat"),
    (r"^sent again as the LAS has it$", "opnieuw verstuurd zoals het LAS het heeft"),
    # guard holds (koppel.plan.guards)
    (r"^(?P<c>\d+) of (?P<t>\d+) (?P<k>persons|groups|memberships) \((?P<p>[\d.]+)%\) in (?P<w>.+?) "
     r"would be suspended, archived or deleted$",
     "{c} van {t} {k} ({p}%) in {w} zouden worden opgeschort, gearchiveerd of verwijderd"),
    (r"^(?P<c>\d+) of (?P<t>\d+) (?P<k>persons|groups|memberships) \((?P<p>[\d.]+)%\) in (?P<w>.+?) "
     r"would have a field emptied$", "bij {c} van {t} {k} ({p}%) in {w} zou een veld worden leeggemaakt"),
    (r"^(?P<c>\d+) of (?P<t>\d+) (?P<k>persons|groups|memberships) \((?P<p>[\d.]+)%\) in (?P<w>.+?) "
     r"would be renamed only in their accents \(an export read in the wrong encoding\? check the source's "
     r"encoding setting\)$",
     "{c} van {t} {k} ({p}%) in {w} zouden alleen in hun accenten worden hernoemd (een export met de verkeerde "
     "tekenset gelezen? controleer de instelling encoding van de bron)"),
    (r"^the limit is (?P<p>[\d.]+)% or (?P<n>\d+) objects$", "de grens is {p}% of {n} objecten"),
    (r"^the limit is (?P<n>\d+) objects$", "de grens is {n} objecten"),
    (r"^jaarovergang (?P<a>\S+) → (?P<b>\S+): (?P<n>\d+) group\(s\) of (?P<y>\S+) are archived$",
     "jaarovergang {a} → {b}: {n} groepen van {y} worden gearchiveerd"),
    (r"^jaarovergang (?P<a>\S+) → (?P<b>\S+): (?P<n>\d+) group\(s\) of (?P<y>\S+) are deleted$",
     "jaarovergang {a} → {b}: {n} groepen van {y} worden verwijderd"),
    (r"^the transition applies after approval$", "de overgang wordt uitgevoerd na goedkeuring"),
    (r"^(?P<n>\d+) account\(s\) found when koppel took over the platform match no LAS person \(the previous "
     r"koppeling's leavers\?\): check the list, then approve their suspension$",
     "{n} accounts die koppel bij de overname op het platform vond, horen bij geen persoon in het LAS (de "
     "vertrekkers van de vorige koppeling?): controleer de lijst en keur dan hun opschorting goed"),
    (r"^the grace period runs from then$", "de uitsteltermijn loopt vanaf dan"),
    # run and request messages
    (r"^the process running this stopped$", "het proces dat dit uitvoerde is gestopt"),
    (r"^the service stopped while this ran$", "de service stopte terwijl dit liep"),
    (r"^stopped on request after (?P<d>[\d,]+) of (?P<t>[\d,]+) changes$",
     "gestopt op verzoek na {d} van {t} wijzigingen"),
    (r"^the next run continues$", "de volgende synchronisatie gaat verder"),
    (r"^takeover (?P<id>\S+) approved by (?P<who>.+)$", "overname {id} goedgekeurd door {who}"),
    (r"^(?P<n>\d+) group\(s\) of a later school year were not read this run and are left alone$",
     "{n} groepen van een later schooljaar zijn deze keer niet gelezen en blijven ongemoeid"),
    (r"^the target cannot (?P<a>\w+) a (?P<k>\w+)$", "het doelsysteem kan geen {k} {a}"),
    (r"^such changes are left out$", "zulke wijzigingen worden weggelaten"),
    # the run lock (koppel.state.locks), when a queued run found the target busy
    (r"^another run for tenant '(?P<ten>[^']*)', target '(?P<tgt>[^']*)' is busy \((?P<pu>[^ ]+) by pid "
     r"(?P<pid>\d+) on (?P<host>\S+) since (?P<at>\S+)\): (?P<r>.+)\. `koppel unlock` shows the lock and removes "
     r"it once stale\.$",
     "een andere synchronisatie van {ten} → {tgt} is bezig ({pu}, proces {pid} op {host}, sinds {at}): {r}. "
     "`koppel unlock` toont de vergrendeling en haalt haar weg zodra ze verlopen is."),
    (r"^its last heartbeat was (?P<x>.+?) ago, within its lease of (?P<y>.+?), and process (?P<pid>\d+) still runs "
     r"on this host$", "het laatste teken van leven was {x} geleden, binnen de termijn van {y}, en proces {pid} "
     "draait nog op deze machine"),
    (r"^its last heartbeat was (?P<x>.+?) ago, within its lease of (?P<y>.+?), and it is held on another host "
     r"\((?P<host>[^)]+)\), where koppel cannot see whether it runs$",
     "het laatste teken van leven was {x} geleden, binnen de termijn van {y}, en de vergrendeling is van een "
     "andere machine ({host}), waar koppel niet kan zien of het proces nog draait"),
    (r"^(?P<n>\d+) account\(s\) found when koppel took over the platform match no LAS person: their suspension "
     r"is proposed in the next plan, after this one, and waits for approval$",
     "{n} accounts die koppel bij de overname op het platform vond, horen bij geen persoon in het LAS: hun "
     "opschorting wordt voorgesteld in het volgende plan, na dit, en wacht op goedkeuring"),
    (r"^next year's data \((?P<y>\S+)\) could not be read, so nothing was provisioned: (?P<e>.+)$",
     "de gegevens van volgend schooljaar ({y}) konden niet worden gelezen, dus is er niets klaargezet: {e}"),
    (r"^kept: (?P<who>.+) — (?P<f>.+) changed in the LAS, not sent \(not owned by koppel\)$",
     "behouden: {who} — {f} gewijzigd in het LAS, niet verstuurd (niet beheerd door koppel)"),
    (r"^kept: (?P<who>.+) — (?P<f>.+) changed in the platform \(not owned by koppel\)$",
     "behouden: {who} — {f} gewijzigd op het platform (niet beheerd door koppel)"),
    # == workers (issue 13, task D): request messages of koppel.service.jobs and worker ==
    (r"^worker stopped after a batch \(run (?P<run>\S+)\)$", "worker gestopt na een batch (synchronisatie {run})"),
    (r"^the run continues on the next worker$", "de volgende worker gaat verder"),
    (r"^timed out after (?P<s>\S+) s: the run did not end \(the source or the target does not answer\)$",
     "tijd verstreken na {s} s: de synchronisatie eindigde niet (de bron of het doelsysteem antwoordt niet)"),
    (r"^timed out after (?P<s>\S+) s: stopped after the batches in flight$",
     "tijd verstreken na {s} s: gestopt na de batches die onderweg waren"),
    (r"^timed out: the run of request (?P<id>\d+) still hangs in this process$",
     "tijd verstreken: de synchronisatie van verzoek {id} hangt nog in dit proces"),
    # == end of workers ==
    # the unchanged-input short cut (koppel.pipeline, issue 13)
    (r"^unchanged since run (?P<run>\d+): the export's bytes, the configuration and rules, koppel's version, the "
     r"state and the day are the same as when that run found nothing to change, so nothing was read or planned "
     r"\(a short cut: --full plans anyway\)$",
     "ongewijzigd sinds synchronisatie {run}: de bytes van de export, de configuratie en regels, de versie van "
     "koppel, de state en de dag zijn dezelfde als toen die synchronisatie niets te wijzigen vond, dus is er niets "
     "gelezen of gepland (een snelle route: --full plant toch)"),
))
_WHERE = (re.compile(r"^school (?P<s>\S+)$"), re.compile(r"^the whole tenant$"))
_STATUS_WORDS = ("running", "succeeded", "partial", "failed", "held", "stopped", "done", "skipped")


class Translator:
    """``tr(key, **values)`` in one language; unknown keys show as the key (and a test forbids them).

    Numbers, plurals, dates and times go through Babel with the language's locale (``nl_NL``: 18.907,
    ``en_GB``: 18,907), so nothing in a template formats by hand."""

    def __init__(self, language: Language | str, zone: ZoneInfo | str | None = None):
        self.language = Language(language)
        self._index = 0 if self.language is Language.NL else 1
        self.locale = Locale.parse(_BABEL_LOCALE[self.language])
        self.zone = ZoneInfo(zone) if isinstance(zone, str) else (zone or ZoneInfo("Europe/Amsterdam"))

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

    # -- numbers, plurals, times ----------------------------------------------------------------

    def num(self, value: object) -> str:
        """A number as the language writes it (``18.907`` / ``18,907``); anything else as text."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "" if value is None else str(value)
        return format_decimal(value, locale=self.locale)

    def plural(self, key: str, n: int, **values: object) -> str:
        """``plural("n.errors", 3)`` → ``3 fouten``: the form Babel's plural rules choose for ``n``."""
        forms = PLURALS[key][self._index]
        text = forms.get(self.locale.plural_form(n), forms["other"])
        return text.format(n=self.num(n), **values)

    def when(self, stamp: str | dt.datetime | None) -> str:
        """A stored UTC moment in the configured zone, with the zone: ``5 dec 2026 14:02 CET``."""
        moment = _moment(stamp)
        if moment is None:
            return "—" if not stamp else str(stamp)
        return format_datetime(moment, "d MMM y HH:mm z", tzinfo=self.zone, locale=self.locale)

    def date(self, value: str | dt.date | None) -> str:
        """A date: ``5 dec 2026`` / ``5 Dec 2026``."""
        if isinstance(value, str):
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                return value
            return format_date(day, "d MMM y", locale=self.locale)
        if value is None:
            return "—"
        return format_date(value, "d MMM y", locale=self.locale)

    def day(self, stamp: str | dt.datetime | None) -> str:
        """The local date of a moment, short (the chart's axis): ``5 dec`` / ``5 Dec``."""
        moment = _moment(stamp)
        if moment is None:
            return ""
        return format_datetime(moment, "d MMM", tzinfo=self.zone, locale=self.locale)

    # -- the core's English, in this language --------------------------------------------------------

    def say(self, text: str | None) -> str:
        """A reason, hold or message the core wrote in English, in this language: each ``; ``-separated
        part that a known pattern matches is translated, its dates and counts formatted; others stay."""
        if not text:
            return ""
        if text in _STATUS_WORDS:
            return self.word("status", text)
        if self.language is Language.EN:
            return text
        return "; ".join(self._part(part) for part in text.split("; "))

    def _part(self, part: str) -> str:
        for pattern, dutch in _DUTCH:
            found = pattern.match(part)
            if found:
                values = {k: self._value(k, v) for k, v in found.groupdict().items()}
                return dutch.format(**values)
        return part

    def _value(self, name: str, value: str) -> str:
        if name in ("c", "t", "n", "d") and value.replace(",", "").isdigit():
            return self.num(int(value.replace(",", "")))
        if name == "p":
            return format_decimal(float(value), locale=self.locale)
        if name == "k":
            return _KINDS_NL.get(value, value)
        if name == "s":
            return _SENT_NL.get(value, value)
        if name == "a" and value in ("create", "update", "suspend", "restore", "archive", "delete"):
            return self.word("action", value)
        if name == "w":
            school = _WHERE[0].match(value)
            if school:
                return f"school {school['s']}"
            if _WHERE[1].match(value):
                return "het hele bestuur"
        if name == "r":
            return self._part(value)
        if name == "at":
            return self.when(value)
        if name in ("x", "y"):
            return value.replace("days", "dagen").replace("day", "dag")
        if name == "f":
            value = value.replace("(empty)", "(leeg)")
        return _ISO_DATE.sub(lambda m: self.date(m.group(1)), value)

    def check(self, code: str, message: str) -> str:
        """A data-quality finding: the check's meaning in Dutch, or the core's own message in English."""
        if self.language is Language.NL and code in CHECKS_NL:
            return CHECKS_NL[code]
        return message


def _moment(stamp: str | dt.datetime | None) -> dt.datetime | None:
    if not stamp:
        return None
    if isinstance(stamp, str):
        try:
            moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        moment = stamp
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
