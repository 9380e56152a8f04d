"""The SDS target's only network I/O: uploading a written CSV set to an SFTP server (paramiko), and checking
that it could, without writing a file.

One connection per publication: TCP, then the server's host key is verified *before* any credential is sent
(a ``known_hosts`` file or an OpenSSH ``SHA256:`` fingerprint; a key that does not match refuses the server),
then public-key or password login, then SFTP. Files go up under a temporary name in the flow's folder and are
renamed over the old ones only when all of them are up (``posix-rename@openssh.com``: an atomic replace; a
server without it gets remove-then-rename), so whatever polls the folder never reads half a file.

Errors, by what the caller should do next: the server cannot be reached, the connection drops, the disk is
full → :class:`~koppel.errors.TransientTargetError` (nothing was published; the next run tries again); the host
key does not match → :class:`HostKeyRefused` and a folder koppel may not write → :class:`TargetConfigError`
(a setting to fix); refused credentials → :class:`~koppel.errors.TargetAuthError`.
"""

from __future__ import annotations

import contextlib
import errno
import posixpath
import socket
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import paramiko

from koppel.errors import TargetAuthError, TargetConfigError, TransientTargetError
from koppel.targets.base import Check, CheckStatus
from koppel.targets.sds.settings import SftpSettings

__all__ = ["HostKeyRefused", "SftpUploader"]

_TMP_SUFFIX = ".koppel-upload"


class HostKeyRefused(TargetConfigError):
    """The server's host key is not the one configured: koppel does not log in (it might not be the server)."""


class SftpUploader:
    """Uploads a CSV set to ``settings``' server. Paths (known_hosts, the private key) are absolute here."""

    def __init__(self, settings: SftpSettings, *, password: str | None = None, passphrase: str | None = None,
                 known_hosts: Path | None = None, private_key: Path | None = None) -> None:
        self.settings = settings
        self._password = password
        self._passphrase = passphrase
        self._known_hosts = known_hosts
        self._private_key = private_key

    def __repr__(self) -> str:
        return f"SftpUploader({self.settings.host}:{self.settings.port}, user={self.settings.username!r})"

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    # -- the connection ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def session(self) -> Iterator[paramiko.SFTPClient]:
        """An SFTP session on a verified, logged-in connection; closed on leaving."""
        s = self.settings
        try:
            sock = socket.create_connection((s.host, s.port), timeout=s.timeout_s)
        except OSError as exc:
            raise TransientTargetError(f"cannot reach the SFTP server {self.where}: {_why(exc)}") from None
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = s.timeout_s
            transport.auth_timeout = s.timeout_s
            try:
                transport.start_client(timeout=s.timeout_s)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise TransientTargetError(f"the SFTP server {self.where} did not complete the SSH handshake: "
                                           f"{_why(exc)}") from None
            self._verify(transport.get_remote_server_key())
            self._login(transport)
            try:
                sftp = paramiko.SFTPClient.from_transport(transport)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise TransientTargetError(f"{self.where} refused the SFTP subsystem: {_why(exc)}") from None
            if sftp is None:
                raise TransientTargetError(f"{self.where} refused the SFTP subsystem")
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(s.timeout_s)
            try:
                yield sftp
            finally:
                sftp.close()
        finally:
            transport.close()

    def fingerprint_of(self, key: paramiko.PKey) -> str:
        return str(key.fingerprint)

    def _verify(self, key: paramiko.PKey) -> None:
        s = self.settings
        seen = self.fingerprint_of(key)
        if not s.verify_host_key:
            return
        if s.host_key_fingerprint is not None:
            if seen != s.host_key_fingerprint:
                raise HostKeyRefused(
                    f"the SFTP server {self.where} presented host key {key.get_name()} {seen}, not the configured "
                    f"host_key_fingerprint {s.host_key_fingerprint}: koppel did not log in (it may not be your server)")
            return
        assert self._known_hosts is not None
        try:
            known = paramiko.HostKeys(str(self._known_hosts))
        except (OSError, paramiko.SSHException) as exc:
            raise TargetConfigError(f"cannot read known_hosts {self._known_hosts}: {_why(exc)}") from None
        name = s.host if s.port == 22 else f"[{s.host}]:{s.port}"
        entries = known.lookup(name)
        if entries is None:
            raise HostKeyRefused(
                f"{self._known_hosts} holds no host key for {name}; the server presented {key.get_name()} {seen}: "
                "koppel did not log in")
        if not known.check(name, key):
            held = ", ".join(f"{k.get_name()} {k.fingerprint}" for k in entries.values())
            raise HostKeyRefused(
                f"the SFTP server {self.where} presented host key {key.get_name()} {seen}, which is not in "
                f"{self._known_hosts} ({held}): koppel did not log in (it may not be your server)")

    def _login(self, transport: paramiko.Transport) -> None:
        s = self.settings
        try:
            if self._private_key is not None:
                try:
                    pkey = paramiko.PKey.from_path(self._private_key, self._passphrase)
                except FileNotFoundError:
                    raise TargetConfigError(f"private_key_file {self._private_key} does not exist") from None
                except (paramiko.SSHException, OSError, ValueError) as exc:
                    raise TargetConfigError(f"cannot load private_key_file {self._private_key}: {_why(exc)}") from None
                transport.auth_publickey(s.username, pkey)
            else:
                transport.auth_password(s.username, self._password or "")
        except paramiko.AuthenticationException:
            how = "key" if self._private_key is not None else "password"
            raise TargetAuthError(f"the SFTP server {self.where} refused user {s.username!r} with the configured "
                                  f"{how}") from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise TransientTargetError(f"login to the SFTP server {self.where} failed: {_why(exc)}") from None

    # -- publishing --------------------------------------------------------------------------------------

    def remote_dir(self, flow: str) -> str:
        return posixpath.join(self.settings.remote_path, flow)

    def upload(self, files: Sequence[Path], flow: str) -> str:
        """Put ``files`` into the flow's remote folder: all under temporary names first, then each renamed over
        its final name. Returns where they went. Nothing of a failed upload replaces what was there."""
        remote = self.remote_dir(flow)
        with self.session() as sftp:
            uploaded: list[str] = []
            try:
                _makedirs(sftp, remote)
                for path in files:
                    tmp = posixpath.join(remote, f".{path.name}{_TMP_SUFFIX}")
                    sftp.put(str(path), tmp, confirm=True)
                    uploaded.append(tmp)
                for path, tmp in zip(files, uploaded, strict=True):
                    _replace(sftp, tmp, posixpath.join(remote, path.name))
                uploaded.clear()
            except OSError as exc:
                raise _sftp_error(exc, f"uploading to {remote} on {self.where}") from None
            except (TimeoutError, paramiko.SSHException, EOFError) as exc:
                raise TransientTargetError(f"uploading to {remote} on {self.where} failed: {_why(exc)}") from None
            finally:
                for tmp in uploaded:
                    with contextlib.suppress(OSError, paramiko.SSHException, EOFError):
                        sftp.remove(tmp)
        return f"sftp://{self.settings.host}:{self.settings.port}/{remote.lstrip('/') if remote != '.' else ''}"

    # -- koppel check ------------------------------------------------------------------------------------

    def check(self) -> list[Check]:
        """Reach, host key, login and a writable remote folder, without writing a file (a probe folder is made
        and removed again)."""
        s = self.settings
        checks: list[Check] = []
        try:
            with self.session() as sftp:
                checks.append(Check("sftp server", CheckStatus.OK, f"the SSH server at {self.where} answers"))
                checks.append(self._host_key_check())
                checks.append(Check("sftp login", CheckStatus.OK,
                                    f"logged in as {s.username!r} with the configured "
                                    f"{'key' if self._private_key is not None else 'password'}"))
                checks.append(_writable(sftp, s.remote_path, self.where))
        except HostKeyRefused as exc:
            checks += [Check("sftp server", CheckStatus.OK, f"the SSH server at {self.where} answers"),
                       Check("sftp host key", CheckStatus.FAILED, str(exc),
                             "ask the server's administrator for its host key fingerprint and compare; only when it "
                             "really changed, update known_hosts (`ssh-keyscan -p PORT HOST`) or host_key_fingerprint")]
        except TargetAuthError as exc:
            checks += [Check("sftp server", CheckStatus.OK, f"the SSH server at {self.where} answers"),
                       self._host_key_check(),
                       Check("sftp login", CheckStatus.FAILED, str(exc),
                             "check sftp.username and the key (its public half in the server's authorized_keys) or "
                             "the password the configuration names")]
        except TargetConfigError as exc:
            checks.append(Check("sftp login", CheckStatus.FAILED, str(exc), "fix the SFTP settings named above"))
        except TransientTargetError as exc:
            checks.append(Check("sftp server", CheckStatus.FAILED, str(exc),
                                f"check sftp.host and sftp.port ({self.where}), that the server runs and that this "
                                "machine may reach it (DNS, firewall)"))
        return checks

    def _host_key_check(self) -> Check:
        s = self.settings
        if not s.verify_host_key:
            return Check("sftp host key", CheckStatus.WARNING, "the server's host key is not verified",
                         "set known_hosts or host_key_fingerprint and turn verify_host_key back on")
        via = "host_key_fingerprint" if s.host_key_fingerprint else f"known_hosts {self._known_hosts}"
        return Check("sftp host key", CheckStatus.OK, f"the server's host key matches {via}")


def _makedirs(sftp: paramiko.SFTPClient, remote: str) -> None:
    """``mkdir -p`` over SFTP."""
    parts: list[str] = []
    head = remote
    while head not in ("", ".", "/"):
        try:
            sftp.stat(head)
            break
        except FileNotFoundError:
            parts.append(head)
            head = posixpath.dirname(head)
    for folder in reversed(parts):
        sftp.mkdir(folder)


def _replace(sftp: paramiko.SFTPClient, tmp: str, final: str) -> None:
    """Rename ``tmp`` over ``final`` atomically where the server can (OpenSSH's posix-rename extension)."""
    try:
        sftp.posix_rename(tmp, final)
        return
    except OSError as exc:
        if "unsupported" not in str(exc).lower():
            raise
    with contextlib.suppress(FileNotFoundError):
        sftp.remove(final)
    sftp.rename(tmp, final)


def _writable(sftp: paramiko.SFTPClient, remote_path: str, where: str) -> Check:
    folder = remote_path
    while True:
        try:
            sftp.stat(folder)
            break
        except FileNotFoundError:
            parent = posixpath.dirname(folder.rstrip("/"))
            if parent in ("", folder):
                folder = "."
                break
            folder = parent
        except OSError as exc:
            return Check("sftp folder", CheckStatus.FAILED, f"cannot look at {remote_path} on {where}: {_why(exc)}",
                         "check sftp.remote_path and the account's rights on the server")
    probe = posixpath.join(folder, f".koppel-check-{uuid.uuid4().hex[:12]}")
    try:
        sftp.mkdir(probe)
        sftp.rmdir(probe)
    except OSError as exc:
        return Check("sftp folder", CheckStatus.FAILED, f"koppel may not write in {folder} on {where}: {_why(exc)}",
                     "give the SFTP account write access there, or choose another sftp.remote_path")
    made = "" if folder == remote_path else f" ({remote_path} does not exist yet: the first publication makes it)"
    return Check("sftp folder", CheckStatus.OK, f"koppel may write in {folder} on {where}{made}")


def _sftp_error(exc: OSError, what: str) -> Exception:
    if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
        return TargetConfigError(f"{what}: permission denied; give the SFTP account write access or choose another "
                                 "sftp.remote_path")
    return TransientTargetError(f"{what} failed: {_why(exc)}")


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
