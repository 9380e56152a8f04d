"""Zips from outside are not trusted: missing files are named, crafted archives refused, nothing extracted."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from koppel.errors import SourceDataError

from .conftest import SPECS, read
from .writer import zip_folder

BULK = SPECS / "v1p1-bulk-minimal"
SCHOOLS = {"org-sch-222-456": "99XX00"}


def zip_with(target: Path, entries: dict[str, bytes], *, skip: str | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(BULK.iterdir()):
            if path.name != skip:
                archive.write(path, path.name)
        for name, data in entries.items():
            archive.writestr(name, data)
    return target


def test_a_zip_without_users_csv_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(
        SourceDataError,
        match=r"export.zip: users.csv is missing, although manifest.csv lists "
        r"file.users as bulk",
    ):
        read(zip_with(tmp_path / "export.zip", {}, skip="users.csv"), schools=SCHOOLS)


def test_a_zipped_folder_is_read_from_inside_its_folder(tmp_path: Path) -> None:
    roster = read(zip_folder(BULK, tmp_path / "export.zip", prefix="OneRoster-2025/"), schools=SCHOOLS)
    assert len(roster.persons) == 6


@pytest.mark.parametrize(
    "name",
    ["../../etc/cron.d/evil.csv", "/etc/passwd.csv", "sub/../../x.csv", "C:/Windows/x.csv", "..\\..\\x.csv"],
)
def test_path_traversal_entries_refuse_the_archive(tmp_path: Path, name: str) -> None:
    archive = zip_with(tmp_path / "export.zip", {name: b"x"})
    with pytest.raises(SourceDataError, match=r"export.zip is refused: entry .* points outside the archive"):
        read(archive, schools=SCHOOLS)
    assert not (tmp_path / "etc").exists()


def test_a_symbolic_link_entry_refuses_the_archive(tmp_path: Path) -> None:
    target = tmp_path / "export.zip"
    zip_with(target, {})
    with zipfile.ZipFile(target, "a") as archive:
        info = zipfile.ZipInfo("link.csv")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(SourceDataError, match=r"entry 'link\.csv' is a symbolic link"):
        read(target, schools=SCHOOLS)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    bomb = zip_with(tmp_path / "export.zip", {"results.csv": b"\0" * (20 * 1024 * 1024)})
    assert bomb.stat().st_size < 100 * 1024
    with pytest.raises(SourceDataError, match=r"entry 'results.csv' unpacks to \d+ times its packed size"):
        read(bomb, schools=SCHOOLS)


def test_an_export_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    noise = bytes(range(256)) * 8 * 1024  # 2 MB that does not compress much
    archive = zip_with(tmp_path / "export.zip", {"lineItems.csv": noise})
    with pytest.raises(
        SourceDataError, match=r"it unpacks to 2 MB, more than the 1 MB limit \(max_unpacked_mb\)"
    ):
        read(archive, schools=SCHOOLS, max_unpacked_mb=1)


def test_duplicate_entries_refuse_the_archive(tmp_path: Path) -> None:
    target = tmp_path / "export.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        zip_with(target, {"users.csv": b"sourcedId\n"})
    with pytest.raises(SourceDataError, match=r"entry 'users\.csv' occurs twice"):
        read(target, schools=SCHOOLS)


def test_something_that_is_not_a_zip(tmp_path: Path) -> None:
    fake = tmp_path / "export.zip"
    fake.write_bytes(b"PK\x03\x04 but not really")
    with pytest.raises(SourceDataError, match=r"export\.zip is not a zip archive"):
        read(fake)
    with pytest.raises(SourceDataError, match="no such file or folder"):
        read(tmp_path / "missing.zip")


def test_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    whole = zip_folder(BULK, tmp_path / "whole.zip").read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(SourceDataError):
        read(cut, schools=SCHOOLS)
