"""Taking over a platform another koppeling (or an import) filled: discover, match, plan, record.

Most schools that switch to koppel already have their learning platform full — persons, the hierarchy,
courses with years of work, memberships — under the previous koppeling's sync ids or made by hand. A
first koppel sync must not make a second account for anyone or a second course for any lesgroep.

* discovery is the target's (``ItslearningTarget.discover``): a read-only walk of the site that yields a
  :class:`~koppel.takeover.model.Discovery`;
* :mod:`.match` (pure) recognises what was found as koppel's desired objects and makes a
  :class:`~koppel.takeover.model.TakeoverPlan`: adopt, create, stale, left alone, ambiguous;
* :mod:`.record` (pure) turns an approved plan into state rows; the pipeline writes them under the run
  lock (``Koppel.approve_takeover``).

The whole switch, step by step: docs/takeover.md.
"""
