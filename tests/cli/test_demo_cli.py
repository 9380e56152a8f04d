"""`koppel demo` through the console script (issue 12, item 10): it ends by itself and only tells the user to do
what works without a password it did not print; with `--keep-running` it prints the sandbox's address and the
password it generated, the printed commands reach the sandbox, and Ctrl-C stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"
PASSWORD_ENV = "KOPPEL_DEMO_ITSLEARNING_PASSWORD"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    return {**env, **extra}


def koppel(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "koppel", *args], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, timeout=120)


def test_the_demo_ends_by_itself_and_asks_for_no_password_it_did_not_print(tmp_path: Path) -> None:
    demo = koppel(tmp_path, "demo", "--dir", str(tmp_path / "demo"), "--students", "40")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    told = demo.stdout.split("Try it yourself", 1)[1]
    assert PASSWORD_ENV not in told and "…" not in told  # nothing to export that was never shown
    assert "koppel demo --keep-running" in told
    # What it does tell works in the demo's folder, without the password.
    plan = koppel(tmp_path / "demo", "plan", "--detailed-exitcode")
    assert plan.returncode == 0 and "No changes" in plan.stdout, plan.stdout + plan.stderr
    status = koppel(tmp_path / "demo", "status")
    assert status.returncode == 0 and "succeeded" in status.stdout, status.stdout + status.stderr


def test_keep_running_prints_how_to_reach_the_sandbox_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    # Ctrl-C as a terminal sends it: SIGINT with its default meaning (a background job may inherit it ignored).
    process = subprocess.Popen(
        [sys.executable, "-m", "koppel", "demo", "--dir", str(folder), "--students", "40", "--keep-running"],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        shown = []
        for line in process.stdout:
            shown.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(shown)
        assert "Press Ctrl-C to stop it." in text, text
        password = re.search(rf"export {PASSWORD_ENV}=(\S+)", text)
        url = re.search(r"keeps running at (http://127\.0\.0\.1:\d+) \(user koppel, password (\S+)\)", text)
        assert password and url and url.group(2) == password.group(1), text
        assert httpx.get(f"{url.group(1)}/sandbox/").status_code == 200

        # The printed commands reach the sandbox with the printed password; another password is refused.
        check = koppel(folder, "check", **{PASSWORD_ENV: password.group(1)})
        assert check.returncode == 0 and "koppel can work with this target." in check.stdout, check.stdout
        wrong = koppel(folder, "check", **{PASSWORD_ENV: "not-the-password"})
        assert wrong.returncode != 0
        sync = koppel(folder, "sync", **{PASSWORD_ENV: password.group(1)})
        assert sync.returncode == 0 and "succeeded" in sync.stdout, sync.stdout + sync.stderr

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "Stopped the itslearning sandbox." in process.stdout.read()
        try:
            httpx.get(f"{url.group(1)}/sandbox/", timeout=2)
            raise AssertionError("the sandbox still answers after Ctrl-C")
        except httpx.TransportError:
            pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
