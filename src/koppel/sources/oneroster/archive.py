"""Open a OneRoster export — a zip or a folder — without trusting it.

An export is data from outside, so a zip is checked as a whole before one file of it is read,
and refused (``SourceDataError``) when it could hurt:

* an entry name that leaves the archive (``../``, an absolute path, a drive letter, a
  backslash), a symbolic link, or the same name twice: "path traversal"; koppel never extracts
  to disk, but such an archive was made to trick an unpacker and is not an honest export;
* a zip bomb: more than ``max_unpacked_mb`` unpacked in total, more than 10,000 entries, or an
  entry that unpacks to more than 100 times its packed size (real CSV packs 5 to 20 times). Sizes
  in the zip's directory can lie, so reading stops as soon as an entry yields more bytes than it
  declared;
* encrypted entries, and anything that is not a zip at all.

The CSV files are read from the archive's root, or from its one top-level folder when the export
tool zipped a folder; nothing else in the archive is read.
"""

from __future__ import annotations

import lzma
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from koppel.errors import SourceDataError

__all__ = ["MAX_ENTRIES", "MAX_RATIO", "Package", "open_package"]

MAX_ENTRIES = 10_000
MAX_RATIO = 100
_RATIO_FLOOR = 1024 * 1024  # entries smaller than this unpacked are never bombs, whatever their ratio
_CHUNK = 1024 * 1024


@dataclass
class Package:
    """One export: its files by name (``users.csv`` …) and how to show it in messages."""

    display: str
    files: dict[str, bytes | Path] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.files

    def read(self, name: str, max_bytes: int) -> bytes:
        content = self.files[name]
        if isinstance(content, bytes):
            return content
        size = content.stat().st_size
        if size > max_bytes:
            raise SourceDataError(
                f"{self.display}/{name} is {size // 2**20} MB, more than the {max_bytes // 2**20} MB limit "
                "(max_unpacked_mb)"
            )
        return content.read_bytes()


def open_package(path: Path, display: str, max_bytes: int) -> Package:
    """The export at ``path``: a folder, or a zip checked and unpacked into memory."""
    if path.is_dir():
        return Package(
            display, {p.name: p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() == ".csv"}
        )
    if not path.exists():
        raise SourceDataError(f"{display}: no such file or folder ({path})")
    with _zip(path, display) as archive:
        return _unpack(archive, display, max_bytes)


@contextmanager
def _zip(path: Path, display: str) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SourceDataError(
            f"{display} is not a zip archive (nor a folder): not a OneRoster export"
        ) from None
    except OSError as exc:
        raise SourceDataError(f"{display} cannot be read: {exc.strerror or exc}") from None
    try:
        yield archive
    finally:
        archive.close()


def _unpack(archive: zipfile.ZipFile, display: str, max_bytes: int) -> Package:
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise _refused(display, f"it has {len(entries)} entries (more than {MAX_ENTRIES})")
    _check_names(entries, display)
    _check_sizes(entries, display, max_bytes)
    files = [e for e in entries if not e.is_dir()]
    prefix = _root(files)
    package = Package(display)
    budget = max_bytes
    for entry in files:
        relative = entry.filename[len(prefix) :]
        if "/" in relative or not relative.lower().endswith(".csv"):
            continue
        data = _read_entry(archive, entry, display, budget)
        budget -= len(data)
        package.files[relative] = data
    return package


def _refused(display: str, reason: str) -> SourceDataError:
    return SourceDataError(
        f"{display} is refused: {reason}. koppel reads no archive that could harm the machine unpacking it; "
        "export the data again"
    )


def _check_names(entries: list[zipfile.ZipInfo], display: str) -> None:
    seen: set[str] = set()
    for entry in entries:
        name = entry.filename
        parts = PurePosixPath(name).parts
        if (
            name.startswith(("/", "\\"))
            or "\\" in name
            or ".." in parts
            or (len(name) > 1 and name[1] == ":")
            or "\x00" in name
        ):
            raise _refused(display, f"entry {name!r} points outside the archive (path traversal)")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise _refused(display, f"entry {name!r} is a symbolic link")
        if entry.flag_bits & 0x1:
            raise _refused(display, f"entry {name!r} is encrypted")
        if name in seen:
            raise _refused(display, f"entry {name!r} occurs twice")
        seen.add(name)


def _check_sizes(entries: list[zipfile.ZipInfo], display: str, max_bytes: int) -> None:
    total = sum(e.file_size for e in entries)
    if total > max_bytes:
        raise _refused(
            display,
            f"it unpacks to {total // 2**20} MB, more than the {max_bytes // 2**20} MB limit "
            "(max_unpacked_mb)",
        )
    for entry in entries:
        if entry.file_size > _RATIO_FLOOR and entry.file_size > MAX_RATIO * max(entry.compress_size, 1):
            ratio = entry.file_size // max(entry.compress_size, 1)
            raise _refused(
                display, f"entry {entry.filename!r} unpacks to {ratio} times its packed size (a zip bomb?)"
            )


def _root(files: list[zipfile.ZipInfo]) -> str:
    """'' when manifest.csv is at the root; 'folder/' when the export is one zipped folder."""
    names = [f.filename for f in files]
    if "manifest.csv" in names:
        return ""
    folders = {n.split("/", 1)[0] for n in names if "/" in n}
    if len(folders) == 1 and not any("/" not in n for n in names if n.lower().endswith(".csv")):
        return f"{folders.pop()}/"
    return ""


def _read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, display: str, budget: int) -> bytes:
    """Read one entry, stopping at the first byte beyond what it declared or what is left of the budget."""
    limit = min(entry.file_size, budget)
    chunks: list[bytes] = []
    read = 0
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(min(_CHUNK, limit - read + 1)):
                read += len(chunk)
                if read > limit:
                    raise _refused(
                        display, f"entry {entry.filename!r} unpacks to more than it declares (a zip bomb?)"
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error, lzma.LZMAError) as exc:
        # OSError: a seek outside the file, or bz2's "Invalid data stream"; zlib/lzma: a damaged stream
        raise SourceDataError(
            f"{display}/{entry.filename} is damaged ({exc}); the zip looks truncated"
        ) from None
    except NotImplementedError as exc:
        raise SourceDataError(
            f"{display}/{entry.filename} uses a compression koppel cannot read ({exc})"
        ) from None
    return b"".join(chunks)
