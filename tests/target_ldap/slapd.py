"""A real OpenLDAP server for the tests and the bench: slapd started as a process on free local ports.

Its own slapd.conf in a temporary folder: the mdb backend with the suffix ``dc=school,dc=test``, the core,
cosine, inetorgperson and nis schemas, the ppolicy overlay
with a default policy that has ``pwdLockout: TRUE`` (so ``pwdAccountLockedTime`` locks), the monitor
backend (its operation counters are how the tests count writes: the server's own figures), and a test CA
with a server certificate for ``localhost`` and ``127.0.0.1`` for LDAPS and StartTLS, and ``dbnosync`` (the
database is thrown away: no fsync per write, so the figures are slapd's and koppel's work, not the disk's). Nothing of the
system's slapd (its service, its port 389, its configuration) is used.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ldap3 import BASE, LEVEL, NONE, Connection, Server

from tests.conftest import free_port, stop_process

SUFFIX = "dc=school,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
POLICY_DN = f"cn=default-policy,{SUFFIX}"
WRITE_OPERATIONS = ("Add", "Modify", "Modrdn", "Delete", "Extended")
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def slapd_binary() -> str | None:
    return shutil.which("slapd") or next((p for p in ("/usr/sbin/slapd",) if Path(p).exists()), None)



def make_certificates(folder: Path, names: tuple[str, ...] = ("localhost", "127.0.0.1")) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed, for ``names``; returns (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    sans = ",".join(("IP:" if n[0].isdigit() else "DNS:") + n for n in names)
    ext = folder / "san.cnf"
    ext.write_text(f"subjectAltName={sans}\nbasicConstraints=CA:FALSE\n", encoding="ascii")
    run = [("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
            "-subj", "/CN=koppel test CA"),
           ("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={names[0]}"),
           ("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
            "-extfile", ext)]
    for args in run:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)
    return ca, cert, key


@dataclass
class Slapd:
    folder: Path
    ldap_port: int = 0
    ldaps_port: int = 0
    schemas: tuple[str, ...] = SCHEMAS
    durable: bool = False  # True: slapd syncs every write to disk (production's default); False: dbnosync
    process: subprocess.Popen[bytes] | None = None
    ca_file: Path = field(init=False)

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.ldaps_port}"

    def start(self) -> Slapd:
        binary = slapd_binary()
        if binary is None:
            raise FileNotFoundError("slapd is not installed (apt-get install slapd ldap-utils)")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "db").mkdir(exist_ok=True)
        self.ca_file, cert, key = make_certificates(self.folder)
        self.ldap_port, self.ldaps_port = free_port(), free_port()
        conf = self.folder / "slapd.conf"
        includes = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in self.schemas)
        conf.write_text(f"""{includes}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {self.folder}/slapd.pid
argsfile {self.folder}/slapd.args
TLSCACertificateFile {self.ca_file}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
sizelimit unlimited
database mdb
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {ADMIN_PASSWORD}
directory {self.folder}/db
maxsize 1073741824
{"" if self.durable else "dbnosync"}
index objectClass eq
index uid,employeeNumber,businessCategory,member eq
overlay ppolicy
ppolicy_default "{POLICY_DN}"
database monitor
""", encoding="utf-8")
        log = (self.folder / "slapd.log").open("wb")
        self.process = subprocess.Popen([binary, "-f", str(conf), "-h",
                                         f"{self.url}/ ldaps://127.0.0.1:{self.ldaps_port}/", "-d", "0"],
                                        stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                conn = self.admin()
                break
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("slapd did not start: " + (self.folder / "slapd.log").read_text()[-2000:]) from None
                time.sleep(0.1)
        conn.add(SUFFIX, ["dcObject", "organization"], {"dc": "school", "o": "koppel test school"})
        conn.add(POLICY_DN, ["pwdPolicy", "device"], {"cn": "default-policy", "pwdAttribute": "userPassword",
                                                     "pwdLockout": "TRUE"})
        conn.unbind()
        return self

    def admin(self) -> Connection:
        conn = Connection(Server("127.0.0.1", port=self.ldap_port, get_info=NONE, connect_timeout=2), ADMIN_DN,
                          ADMIN_PASSWORD, raise_exceptions=True, receive_timeout=10)
        conn.bind()
        return conn

    def new_base(self) -> str:
        """A fresh, empty OU under the suffix: one test's base DN."""
        dn = f"ou=t-{uuid.uuid4().hex[:10]},{SUFFIX}"
        conn = self.admin()
        conn.add(dn, ["organizationalUnit"], {"ou": dn.split(",")[0][3:]})
        conn.unbind()
        return dn

    def operations(self) -> dict[str, int]:
        """Completed operations by kind, as slapd's monitor backend counts them."""
        conn = self.admin()
        conn.search("cn=Operations,cn=Monitor", "(objectClass=*)", LEVEL, attributes=["monitorOpCompleted"])
        counts = {e["dn"].split(",")[0][3:]: int(e["attributes"]["monitorOpCompleted"][0]) for e in conn.response
                  if e.get("type") == "searchResEntry"}
        conn.unbind()
        return counts

    def writes(self) -> int:
        counts = self.operations()
        return sum(counts.get(kind, 0) for kind in WRITE_OPERATIONS)

    def entry(self, dn: str, *attributes: str) -> dict[str, list[str]] | None:
        conn = self.admin()
        try:
            conn.search(dn, "(objectClass=*)", BASE, attributes=list(attributes) or ["*", "+"])
        except Exception:
            return None
        found = [e for e in conn.response if e.get("type") == "searchResEntry"]
        conn.unbind()
        return dict(found[0]["attributes"]) if found else None

    def can_bind(self, dn: str, password: str) -> bool:
        conn = Connection(Server("127.0.0.1", port=self.ldap_port, get_info=NONE), dn, password,
                          raise_exceptions=False)
        ok = bool(conn.bind())
        conn.unbind()
        return ok

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
