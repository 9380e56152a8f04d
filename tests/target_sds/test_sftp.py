"""The SFTP upload against a real OpenSSH server (sshd started by the test): the set arrives whole, the host key
is verified before logging in, and every failure publishes nothing and moves nothing."""

from __future__ import annotations

import pytest

from koppel.errors import TargetAuthError, TargetConfigError, TransientTargetError
from koppel.targets.base import CheckStatus
from koppel.targets.sds.mapping import FILES
from koppel.targets.sds.sftp import HostKeyRefused
from tests.target_sds.roster import by_batch, school
from tests.target_sds.support import make_target, read_set


def staged(tmp_path, sshd, **sftp):
    target = make_target(tmp_path / "out", sftp=sshd.settings(**sftp))
    for batch in by_batch(school()):
        assert all(r.ok for r in target.apply(batch))
    return target


def remote_files(sshd):
    folder = sshd.home / "sds" / "2025-2026"
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def test_the_set_is_uploaded_whole_and_equals_the_local_one(tmp_path, sshd):
    target = staged(tmp_path, sshd)
    note = target.publish()
    local = tmp_path / "out" / "2025-2026"
    assert f"uploaded to sftp://{sshd.host}:{sshd.port}/" in note
    remote = remote_files(sshd)
    assert sorted(remote) == sorted(FILES), "exactly the seven files, no temporary ones left"
    assert all(remote[name] == (local / name).read_bytes() for name in FILES)
    read_set(sshd.home / "sds" / "2025-2026")


def test_a_second_publication_replaces_the_files_in_place(tmp_path, sshd):
    from koppel.model.change import Action
    from koppel.model.desired import ObjectKind
    from koppel.testing.conformance import change

    target = staged(tmp_path, sshd)
    target.publish()
    before = (sshd.home / "sds" / "2025-2026" / "users.csv").read_text(encoding="utf-8")
    target.apply([change(Action.SUSPEND, ObjectKind.PERSON, "las:100003", before={"role": "student"})])
    target.publish()
    after = (sshd.home / "sds" / "2025-2026" / "users.csv").read_text(encoding="utf-8")
    assert "las:100003" in before and "las:100003" not in after
    assert sorted(remote_files(sshd)) == sorted(FILES)


def test_a_host_key_fingerprint_works_as_well_as_known_hosts(tmp_path, sshd):
    target = staged(tmp_path, sshd, known_hosts=None, host_key_fingerprint=sshd.fingerprint)
    target.publish()
    assert sorted(remote_files(sshd)) == sorted(FILES)


def test_a_wrong_host_key_is_refused_before_login_and_nothing_is_published(tmp_path, sshd):
    target = staged(tmp_path, sshd)
    sshd.stop()
    sshd.new_host_key()  # the server at this address is not the one koppel knows
    sshd.start()
    with pytest.raises(HostKeyRefused) as refused:
        target.publish()
    text = str(refused.value)
    assert sshd.fingerprint in text and "koppel did not log in" in text and "known_hosts" in text
    assert remote_files(sshd) == {}
    assert not (tmp_path / "out" / "2025-2026").exists(), "the local folder is not swapped in either"
    assert target._load().publication == 0 and not target.mirror_path.exists(), "the mirror did not move"
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")] == [], "no temp folder left"
    check = {c.name: c for c in target.check()}
    assert check["sftp host key"].status is CheckStatus.FAILED and sshd.fingerprint in check["sftp host key"].message


def test_a_wrong_fingerprint_is_refused_too(tmp_path, sshd):
    other = "SHA256:" + "A" * 43
    target = staged(tmp_path, sshd, known_hosts=None, host_key_fingerprint=other)
    with pytest.raises(TargetConfigError, match="not the configured host_key_fingerprint"):
        target.publish()
    assert remote_files(sshd) == {}


def test_an_unknown_key_is_refused(tmp_path, sshd):
    target = staged(tmp_path, sshd, private_key_file=str(sshd.stranger_key))
    with pytest.raises(TargetAuthError, match="refused user"):
        target.publish()
    checks = {c.name: c.status for c in target.check()}
    assert checks["sftp login"] is CheckStatus.FAILED and checks["sftp host key"] is CheckStatus.OK


def test_a_server_that_is_down_fails_transiently_and_the_next_publication_goes_out(tmp_path, sshd):
    target = staged(tmp_path, sshd)
    sshd.stop()
    with pytest.raises(TransientTargetError, match="cannot reach the SFTP server"):
        target.publish()
    assert target._load().publication == 0
    assert not (tmp_path / "out" / "2025-2026").exists()
    check = {c.name: c for c in target.check()}
    assert check["sftp server"].status is CheckStatus.FAILED and "check sftp.host" in (check["sftp server"].fix or "")
    sshd.start()
    target.publish()  # the staged changes are still there: the applier had not discarded them in this test
    assert sorted(remote_files(sshd)) == sorted(FILES) and target._load().publication == 1


def test_check_reads_without_writing_a_file(tmp_path, sshd):
    target = make_target(tmp_path / "out", sftp=sshd.settings())
    checks = target.check()
    assert [(c.name, c.status) for c in checks] == [
        ("folder", CheckStatus.OK), ("published", CheckStatus.OK), ("sftp server", CheckStatus.OK),
        ("sftp host key", CheckStatus.OK), ("sftp login", CheckStatus.OK), ("sftp folder", CheckStatus.OK)]
    assert list(sshd.home.rglob("*")) == [], "the probe folder was removed again; nothing was written"
    assert not (tmp_path / "out").exists()


def test_a_remote_folder_that_cannot_be_made_publishes_nothing_and_check_says_so(tmp_path, sshd):
    (sshd.home / "afile").write_text("x")  # a folder under a regular file cannot be made, whoever logs in
    target = staged(tmp_path, sshd, remote_path=str(sshd.home / "afile" / "sds"))
    with pytest.raises(TransientTargetError, match=r"uploading to .*afile/sds/2025-2026 on .* failed"):
        target.publish()
    assert target._load().publication == 0 and not (tmp_path / "out" / "2025-2026").exists()
    folder = {c.name: c for c in target.check()}["sftp folder"]
    assert folder.status is CheckStatus.FAILED and "may not write" in folder.message
