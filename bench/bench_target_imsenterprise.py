"""Benchmark: the ims-enterprise target publishing the 60,000-pupil bestuur, and a one-pupil change.

Prepared once in bench/out/imsenterprise-<pupils>/: the generated Magister export (``bench_plan.export``), a copy
with one pupil moved to another klas (``bench_nochange.changed_export``), and a first ``koppel sync`` to an
ims-enterprise target (Moodle profile, snapshot) — measured: wall clock, peak RSS, the file's size.

Then, each in a fresh process (``--inner``), on that sync's mirror (``moodledata/.koppel/moodle.db``, SQLite rows;
a prepared state from before the SQLite mirror, with ``moodle.json``, is converted once by :func:`convert_json_mirror`):

* **publish the bestuur** — every object of the mirror staged as a create on an empty target, then ``publish()``:
  seconds to stage, seconds to write the file and the mirror (of which the mirror's commit), peak RSS after
  staging, before and after the commit;
* **one-pupil change, snapshot and delta** — the target as a run finds it (mirror on disk), a pupil's
  memberships of one klas's lesgroepen removed and those of another klas added (what ``move_pupil`` plans; the
  creates whose group is not published are left out), then published: seconds for open + stage + publish, of
  which the mirror's commit (the staged rows written), the file's size; and, afterwards in the same process,
  reading every row of the mirror alone (what a snapshot streams) and reading them into the view ``publish()``
  builds (``document.view_of``);

and ``koppel sync`` on the moved export from a copy of the first sync's state (snapshot): the whole run.

    python bench/bench_target_imsenterprise.py                  # 60,000 pupils
    python bench/bench_target_imsenterprise.py --pupils 10000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_nochange import changed_export
from bench_plan import CONFIG_HEAD, KOPPEL, OUT, export, timed

CONFIG = CONFIG_HEAD + """\
[tenants.bench.targets.moodle]
kind = "ims-enterprise"
folder = "moodledata"

[tenants.bench.targets.moodle.policy.guards]
max_count = 100000000
max_percent = 100.0
hold_jaarovergang = false
"""


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def convert_json_mirror(old: Path) -> Path:
    """A mirror of the JSON days (``{"objects": [...], "publication": N}``, read whole) staged and committed into
    a :class:`PublishedRoster` beside it (``<name>.db``, publication N); the JSON file is removed. Returns the new
    path."""
    from koppel.model.change import Action, Change
    from koppel.targets.files import MirrorObject, PublishedRoster

    new = old.with_suffix(".db")
    data = json.loads(old.read_bytes())
    new.unlink(missing_ok=True)
    roster = PublishedRoster(new, publication=int(data.get("publication", 0)) - 1)  # commit() counts one up
    action = {"active": Action.CREATE, "suspended": Action.SUSPEND, "archived": Action.ARCHIVE}
    for raw in data["objects"]:
        obj = MirrorObject.from_json(raw)
        roster.stage(Change(action[obj.status], obj.kind, obj.key, "converted", 0, after=obj.attrs,
                            target_id=obj.target_id))
    roster.commit()
    roster.close()
    old.unlink()
    return new


def prepare(pupils: int) -> tuple[Path, dict]:
    work = OUT / f"imsenterprise-{pupils}"
    result_file = work / "first-sync.json"
    if result_file.exists():
        old = work / "moodledata.pristine" / ".koppel" / "moodle.json"
        if old.exists():  # prepared before the mirror was SQLite rows: convert it once
            # in a process of its own: a child inherits its parent's peak RSS (fork, then exec keeps ru_maxrss),
            # and this one grows to several GiB, which would show as the peak of every measurement after it
            done = timed([sys.executable, __file__, "--inner", "convert", str(old)], work)
            if done["exit"] != 0:
                raise SystemExit(f"converting {old} failed: {(work / 'last-output.txt').read_text()[-2000:]}")
            print(f"converted {old} to moodle.db: {done}", flush=True)
        return work, json.loads(result_file.read_text())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "koppel.toml").write_text(CONFIG.format(export=export(pupils).resolve()), encoding="utf-8")
    (work / "moved.toml").write_text(CONFIG.format(export=changed_export(pupils).resolve()), encoding="utf-8")
    first = timed([*KOPPEL, "sync", "-c", "koppel.toml"], work)
    first["load"] = round(os.getloadavg()[0], 1)
    if first["exit"] != 0:
        raise SystemExit(f"first sync failed: {(work / 'last-output.txt').read_text()[-2000:]}")
    first["file_mb"] = round((work / "moodledata" / "imsenterprise-enrol.xml").stat().st_size / 1e6, 1)
    first["mirror_mb"] = round((work / "moodledata" / ".koppel" / "moodle.db").stat().st_size / 1e6, 1)
    shutil.copyfile(work / "state.db", work / "state.pristine.db")
    shutil.copytree(work / "moodledata", work / "moodledata.pristine")
    result_file.write_text(json.dumps(first), encoding="utf-8")
    return work, first


# -- the inner measurements (each in a fresh process) ----------------------------------------------------------


def _time_commits(peaks: dict[str, float] | None = None) -> list[float]:
    """From now on in this process, the seconds of every PublishedRoster.commit (the mirror's share of a
    publish(): the staged rows written in one transaction); ``peaks`` gets the peak RSS before and after it."""
    from koppel.targets.files import PublishedRoster

    commits: list[float] = []
    commit = PublishedRoster.commit

    def timed_commit(roster: PublishedRoster) -> None:
        if peaks is not None:
            peaks["peak_rss_before_commit_mib"] = round(_peak_mib())
        begun = time.perf_counter()
        commit(roster)
        commits.append(time.perf_counter() - begun)
        if peaks is not None:
            peaks["peak_rss_after_commit_mib"] = round(_peak_mib())

    PublishedRoster.commit = timed_commit  # type: ignore[method-assign,assignment]
    return commits


def inner_full(work: Path) -> dict:
    from koppel.model.change import Action, Change
    from koppel.model.desired import ObjectKind
    from koppel.targets.files import PublishedRoster
    from koppel.targets.imsenterprise import ImsEnterpriseSettings, ImsEnterpriseTarget

    mirror = PublishedRoster.load(work / "moodledata.pristine" / ".koppel" / "moodle.db")
    objects = list(mirror.objects())
    mirror.close()
    del mirror
    groups = {o.key: o for o in objects if o.kind is ObjectKind.GROUP}

    def depth(key: str) -> int:
        parent, n = groups[key].attrs.get("parent"), 0
        while parent in groups:
            parent, n = groups[parent].attrs.get("parent"), n + 1
        return n

    order = {ObjectKind.GROUP: 0, ObjectKind.PERSON: 1, ObjectKind.MEMBERSHIP: 2}
    objects.sort(key=lambda o: (order[o.kind], depth(o.key) if o.kind is ObjectKind.GROUP else 0))
    changes = [Change(Action.CREATE, o.kind, o.key, "bench", 0, after=o.attrs) for o in objects]
    del objects
    gc.collect()
    folder = work / "full"
    shutil.rmtree(folder, ignore_errors=True)
    target = ImsEnterpriseTarget("moodle", ImsEnterpriseSettings(folder=str(folder)), folder=folder)
    peaks: dict[str, float] = {}
    commits = _time_commits(peaks)
    base = _rss_mib()
    started = time.perf_counter()
    for start in range(0, len(changes), 1000):
        results = target.apply(changes[start:start + 1000])
        assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    staged = time.perf_counter() - started
    peaks["peak_rss_after_staging_mib"] = round(_peak_mib())
    started = time.perf_counter()
    note = target.publish()
    published = time.perf_counter() - started
    size = target.path_for(1).stat().st_size
    return {"objects": len(changes), "stage_s": round(staged, 2), "publish_s": round(published, 2),
            "of_which_mirror_commit_s": round(sum(commits), 2),
            "mirror_mb": round((folder / ".koppel" / "moodle.db").stat().st_size / 1e6, 1),
            "file_mb": round(size / 1e6, 1), "base_rss_mib": round(base), "peak_rss_mib": round(_peak_mib()), **peaks,
            "load": round(os.getloadavg()[0], 1), "note": note}


def inner_one(work: Path, mode: str) -> dict:
    from koppel.model.change import Action, Change
    from koppel.model.desired import ObjectKind
    from koppel.targets.files import PublishedRoster
    from koppel.targets.imsenterprise import ImsEnterpriseSettings, ImsEnterpriseTarget
    from koppel.targets.imsenterprise.document import view_of

    folder = work / f"one-{mode}"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(work / "moodledata.pristine", folder)
    # the change: one pupil leaves the lesgroepen of one klas and joins those of another (33 changes at 60,000)
    mirror = PublishedRoster.load(folder / ".koppel" / "moodle.db")
    memberships = [o for o in mirror.objects(ObjectKind.MEMBERSHIP)]
    pupil = next(o.attrs["person"] for o in memberships if o.attrs["role"] == "student" and ".ne" in o.attrs["group"])
    mine = [o for o in memberships if o.attrs["person"] == pupil and o.attrs["group"].count(".") == 1]
    klas = mine[0].attrs["group"].rsplit(":", 1)[1].split(".")[0]
    other = next(o.attrs["group"].rsplit(":", 1)[1].split(".")[0] for o in memberships
                 if o.attrs["group"].count(".") == 1 and o.attrs["group"].rsplit(":", 1)[1].split(".")[0] != klas
                 and o.attrs["group"].rsplit(":", 1)[1][:1] == klas[:1])
    prefix = mine[0].attrs["group"].rsplit(":", 1)[0]
    changes = [Change(Action.DELETE, ObjectKind.MEMBERSHIP, o.key, "moved", 0, before=o.attrs) for o in mine]
    changes += [Change(Action.CREATE, ObjectKind.MEMBERSHIP, f"{pupil}|{prefix}:{other}.{o.attrs['group'].rsplit('.', 1)[1]}|student",
                       "moved", 1, after={**o.attrs, "group": f"{prefix}:{other}.{o.attrs['group'].rsplit('.', 1)[1]}"})
                for o in mine]
    changes = [c for c in changes if c.action is Action.DELETE or mirror.get(ObjectKind.GROUP, c.after["group"])]
    mirror.close()
    del mirror, memberships
    gc.collect()
    settings = ImsEnterpriseSettings(folder=str(folder), **({"mode": "delta", "file_name": "koppel-{sequence:06d}.xml",
                                                             "carry_days": 0} if mode == "delta" else {}))
    commits = _time_commits()
    base = _rss_mib()
    started = time.perf_counter()
    target = ImsEnterpriseTarget("moodle", settings, folder=folder)
    target.roster  # noqa: B018 - loads the mirror, as the first staged change of a run does
    loaded = time.perf_counter()
    for kind_changes in ([c for c in changes if c.action is Action.DELETE],
                         [c for c in changes if c.action is Action.CREATE]):
        results = target.apply(kind_changes)
        assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    staged = time.perf_counter()
    note = target.publish()
    done = time.perf_counter()
    peak = _peak_mib()  # before the measurements below
    path = target.path_for(target.roster.publication)
    target.roster.close()
    # every row of the mirror alone, as a snapshot streams them (what publish() reads besides writing the file)
    started_rows = time.perf_counter()
    mirror = PublishedRoster.load(folder / ".koppel" / "moodle.db")
    rows = sum(1 for _ in mirror.objects())
    read_rows = time.perf_counter() - started_rows
    started_view = time.perf_counter()  # and the whole roster held as publish() holds it (document.view_of)
    view = view_of(mirror.objects())
    view_rows = time.perf_counter() - started_view
    del view
    mirror.close()
    return {"mode": mode, "changes": len(changes), "seconds": round(done - started, 2),
            "load_mirror_s": round(loaded - started, 3), "stage_s": round(staged - loaded, 3),
            "publish_s": round(done - staged, 2), "of_which_mirror_commit_s": round(sum(commits), 3),
            "read_all_rows_alone_s": round(read_rows, 2), "view_of_all_rows_alone_s": round(view_rows, 2), "rows": rows,
            "mirror_mb": round((folder / ".koppel" / "moodle.db").stat().st_size / 1e6, 1),
            "file_kb": round(path.stat().st_size / 1e3, 1), "base_rss_mib": round(base),
            "peak_rss_mib": round(peak), "load": round(os.getloadavg()[0], 1), "note": note}


def _inner(args: list[str], work: Path) -> dict:
    done = timed([sys.executable, __file__, "--inner", *args, str(work)], work)
    output = (work / "last-output.txt").read_text(encoding="utf-8")
    if done["exit"] != 0:
        raise SystemExit(f"--inner {' '.join(args)} failed: {output[-2000:]}")
    return {**json.loads(output.strip().splitlines()[-1]), "wall_s": done["seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=60000)
    parser.add_argument("--inner", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        what, *rest = args.inner
        work = Path(rest[-1])
        if what == "convert":
            print(json.dumps({"converted": str(convert_json_mirror(work))}))
            return 0
        result = inner_full(work) if what == "full" else inner_one(work, rest[0])
        print(json.dumps(result))
        return 0
    print(f"load average: {os.getloadavg()[0]:.2f}", flush=True)
    work, first = prepare(args.pupils)
    print(f"first `koppel sync` (plan + stage + publish + state): {first}", flush=True)
    full = _inner(["full"], work)
    print(f"publish the bestuur: {full}", flush=True)
    snapshot = _inner(["one", "snapshot"], work)
    delta = _inner(["one", "delta"], work)
    print(f"one-pupil change, snapshot: {snapshot}\none-pupil change, delta: {delta}", flush=True)
    for suffix in ("", "-wal", "-shm"):
        (work / f"state.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(work / "state.pristine.db", work / "state.db")
    shutil.rmtree(work / "moodledata")
    shutil.copytree(work / "moodledata.pristine", work / "moodledata")
    moved = timed([*KOPPEL, "sync", "-c", "moved.toml"], work)
    moved["load"] = round(os.getloadavg()[0], 1)
    moved["output"] = [line for line in (work / "last-output.txt").read_text(encoding="utf-8").splitlines()
                       if line.startswith(("Plan:", "Applied:"))]
    print(f"`koppel sync` of the moved pupil (snapshot): {moved}", flush=True)
    results = {"first_sync": first, "publish": full, "one_snapshot": snapshot, "one_delta": delta,
               "moved_sync": moved, "load": os.getloadavg()[0]}
    (OUT / f"imsenterprise-{args.pupils}-results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
