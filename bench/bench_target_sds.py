"""Benchmark (issue 14): the SDS target publishing the 60,000-pupil bestuur, and a one-pupil change.

It prepares, in bench/out/sds-<pupils>/, a koppel.toml with one target of kind ``sds`` (a folder, and SFTP to an
OpenSSH server the bench starts on a free local port: tests/target_sds/sshd.py, key login, known_hosts), on
the generated Magister export that bench_plan.py and bench_nochange.py use (50 schools, seed 0). Then, each
in a fresh process, as cron runs it:

* **first sync** — ``koppel sync``: read, plan, stage every object, write the seven CSV files, upload them to the
  local sshd, swap the folder in, write the mirror, record the state;
* **publish alone** — the same target rebuilt from the configuration, publishing what was published (the
  mirror, ``sds/.koppel/teams.db``: SQLite rows) again, timed in parts: open the mirror; build and write the CSV
  set (the rows streamed from the mirror as they are written); read every row of the mirror alone; upload the
  set over SFTP; the whole ``publish()`` (write, upload, swap, the mirror's commit);
* **no-change sync** — ``koppel sync`` on the unchanged export (must publish and upload nothing);
* **one-pupil change** — ``koppel sync`` on the export with one pupil moved to another klas
  (bench_nochange.changed_export): SDS is bulk only, so the whole set is written and uploaded again.

Seconds are wall time; peak memory is the process's maximum RSS (wait4); sizes are the files' bytes.

    python bench/bench_target_sds.py                  # 60,000 pupils
    python bench/bench_target_sds.py --sizes 10000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_nochange import changed_export  # noqa: E402
from bench_plan import CONFIG_HEAD, KOPPEL, OUT, SIZES, export, timed  # noqa: E402

CONFIG = CONFIG_HEAD + """\
[tenants.bench.targets.teams]
kind = "sds"
folder = "sds"
username_domain = "bestuur.example"

[tenants.bench.targets.teams.sftp]
host = "{host}"
port = {port}
username = "{user}"
private_key_file = "{key}"
known_hosts = "{known_hosts}"
remote_path = "{remote}"

[tenants.bench.targets.teams.policy.guards]
max_count = 100000000
max_percent = 100.0
"""


def applied_seconds(work: Path) -> str:
    text = (work / "last-output.txt").read_text(encoding="utf-8", errors="replace")
    plan = next((line for line in text.splitlines() if line.startswith("Plan:")), "")
    applied = re.search(r"Applied: .*?, ([\d.]+) s\.", text)
    return f"{plan} | apply+publish {applied.group(1) if applied else '?'} s"


def sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir())}


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def publish_alone(work: Path) -> dict:
    """In this (fresh) process: the target from the configuration, publishing its mirror again, in parts."""
    import structlog

    from koppel.cli.common import configure_logging
    from koppel.config import load_config
    from koppel.connectors import load_target_kind
    from koppel.targets.files import PublishedRoster
    from koppel.targets.sds.mapping import FILES, SdsFiles

    configure_logging("warning")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    config = load_config(work / "koppel.toml")
    tenant = config.tenant("bench")
    target_cfg = tenant.targets["teams"]
    target = load_target_kind("sds").factory("teams", target_cfg.settings, config.context(tenant, env={}))
    out: dict = {}
    started = time.perf_counter()
    roster = PublishedRoster.load(target.mirror_path)
    out["load_mirror_s"] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    files = SdsFiles(roster.objects(), target.config, today=target._today())
    tmp, counts = target._write(files)
    out["build_and_write_s"] = round(time.perf_counter() - started, 2)
    out["rows"] = counts
    started = time.perf_counter()
    out["objects"] = sum(1 for _ in roster.objects())
    out["read_all_rows_alone_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    assert target.uploader is not None
    target.uploader.upload([tmp / name for name in FILES], "bench-upload-only")
    out["sftp_upload_s"] = round(time.perf_counter() - started, 2)
    shutil.rmtree(tmp)
    target._roster = roster
    started = time.perf_counter()
    target.publish()
    out["publish_s"] = round(time.perf_counter() - started, 2)
    out["load"] = round(os.getloadavg()[0], 1)
    return out


def run(students: int) -> dict:
    from tests.target_sds.sshd import SshServer, available

    reason = available()
    if reason is not None:
        raise SystemExit(f"cannot run the SFTP part: {reason}")
    export_dir, moved_dir = export(students), changed_export(students)
    work = OUT / f"sds-{students}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sshd = SshServer(work / "sshd")
    sshd.start()
    try:
        def configure(source: Path) -> None:
            (work / "koppel.toml").write_text(CONFIG.format(
                export=source.resolve(), host=sshd.host, port=sshd.port, user=sshd.user,
                key=sshd.root / "client_ed25519", known_hosts=sshd.root / "known_hosts",
                remote=sshd.home / "sds"), encoding="utf-8")

        configure(export_dir)
        result: dict = {"pupils": students, "schools": SIZES[students]}
        result["first_sync"] = timed([*KOPPEL, "sync", "-c", "koppel.toml"], work)
        result["first_sync"]["summary"] = applied_seconds(work)
        result["first_sync"]["load"] = round(os.getloadavg()[0], 1)
        local, remote = work / "sds" / "2025-2026", sshd.home / "sds" / "2025-2026"
        result["files_bytes"] = sizes(local)
        result["total_mib"] = round(sum(result["files_bytes"].values()) / 2**20, 1)
        result["mirror_mib"] = round((work / "sds" / ".koppel" / "teams.db").stat().st_size / 2**20, 1)
        assert sizes(remote) == result["files_bytes"], "the server holds the same set"

        started = time.perf_counter()
        with open(work / "publish-alone.json", "wb") as sink:
            proc = subprocess.Popen([sys.executable, __file__, "--publish-alone", str(work)], stdout=sink)
            _, status, usage = os.wait4(proc.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "publish alone failed"
        result["publish_alone"] = json.loads((work / "publish-alone.json").read_text())
        result["publish_alone"]["process_seconds"] = round(time.perf_counter() - started, 2)
        result["publish_alone"]["peak_rss_mib"] = round(usage.ru_maxrss / 1024)

        before = stamps(remote)
        result["no_change_sync"] = timed([*KOPPEL, "sync", "-c", "koppel.toml"], work)
        result["no_change_sync"]["uploaded"] = stamps(remote) != before
        result["no_change_sync"]["load"] = round(os.getloadavg()[0], 1)

        configure(moved_dir)
        before = stamps(remote)
        result["one_pupil_sync"] = timed([*KOPPEL, "sync", "-c", "koppel.toml"], work)
        result["one_pupil_sync"]["summary"] = applied_seconds(work)
        result["one_pupil_sync"]["uploaded"] = stamps(remote) != before
        result["one_pupil_sync"]["load"] = round(os.getloadavg()[0], 1)
        return result
    finally:
        sshd.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60_000])
    parser.add_argument("--publish-alone", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish_alone:
        print(json.dumps(publish_alone(args.publish_alone)))
        return
    load = os.getloadavg()
    for students in args.sizes:
        result = run(students)
        result["load"] = [round(x, 2) for x in load]
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
