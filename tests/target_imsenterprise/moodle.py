"""A small stand-in for Moodle's enrol_imsenterprise, written from its source and the facts a real Moodle showed
(shared/reference/moodle-imsenterprise-facts.md), to read koppel's files the way Moodle does: no XML parser.

It follows ``enrol/imsenterprise/lib.php`` (Moodle 4.x/5.x): ``cron()`` processes the file only when its path is
new, or its modification time (whole seconds, PHP's ``filemtime``) is later than the last and its MD5 differs;
lines are read one by one into a cache, and a complete ``<group>``, ``<person>``, ``<membership>``,
``<comments>`` or ``<properties>`` element is cut out of it with the plugin's regular expressions (same patterns,
case-insensitive, dot matching newlines) and processed in document order; then each ``process_*_tag`` with its
patterns for the fields. Entities are not decoded; bytes that are not UTF-8 stop the run (PostgreSQL refuses the
insert). The "database" is a few dicts: users, courses, categories and enrolments (user, course) → roles.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

F = re.S | re.I


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, F)


# The plugin's patterns, as in lib.php ({…}is in PHP).
TAG = {name: _rx(rf"(<{name}\b.*?>.*?</{name}>)") for name in ("group", "person", "membership", "comments",
                                                                 "properties")}
SOURCEDID_ID = _rx(r"<sourcedid>.*?<id>(.+?)</id>.*?</sourcedid>")
DESC = {part: _rx(rf"<description>.*?<{part}>(.*?)</{part}>.*?</description>") for part in ("long", "short", "full")}
ORG = _rx(r"<org>(.*?)</org>")
ORGUNIT = _rx(r"<orgunit>(.*?)</orgunit>")
GIVEN = _rx(r"<name>.*?<n>.*?<given>(.+?)</given>.*?</n>.*?</name>")
FAMILY = _rx(r"<name>.*?<n>.*?<family>(.+?)</family>.*?</n>.*?</name>")
USERID = _rx(r"<userid.*?>(.*?)</userid>")
AUTH = _rx(r'<userid\s+authenticationtype\s*=\s*"*(.+?)"*>.*?</userid>')
EMAIL = _rx(r"<email>(.*?)</email>")
MEMBER = _rx(r"<member>(.*?)</member>")
ROLETYPE = _rx(r"""<role\s+roletype=["'](.+?)["'].*?>""")
STATUS = _rx(r"<role\b.*?<status>(.+?)</status>.*?</role>")
TARGET = "<target>{}</target>"


def recstatus(tagdata: str, tagname: str) -> int:
    found = re.search(rf"""<{tagname}\b[^>]*recstatus\s*=\s*["'](\d)["']""", tagdata, F)
    return int(found.group(1)) if found else 0


IMS_ROLES = {"01": "Learner", "02": "Instructor", "03": "ContentDeveloper", "04": "Member", "05": "Manager",
             "06": "Mentor", "07": "Administrator", "08": "TeachingAssistant"}
DEFAULT_ROLE_MAP = {"01": "student", "02": "editingteacher", "03": "editingteacher", "04": "student", "05": None,
                    "06": "teacher", "07": None, "08": "teacher"}


class MoodleAborted(RuntimeError):
    """The plugin's run stopped (an exception in PHP: a database error, a duplicate short name)."""


@dataclass
class User:
    id: int
    idnumber: str
    username: str
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    auth: str = "email"
    deleted: bool = False


@dataclass
class Course:
    id: int
    idnumber: str
    shortname: str
    fullname: str
    category: int
    visible: bool = True


@dataclass
class MoodleSite:
    """Settings as a school would set them for koppel (every create/update/delete/unenrol option on)."""

    createnewusers: bool = True
    imsupdateusers: bool = True
    imsdeleteusers: bool = True
    createnewcourses: bool = True
    updatecourses: bool = True
    createnewcategories: bool = True
    imsunenrol: bool = True
    nestedcategories: bool = False
    imsrestricttarget: str = ""
    default_auth: str = "email"
    role_map: dict[str, str | None] = field(default_factory=lambda: dict(DEFAULT_ROLE_MAP))
    users: dict[int, User] = field(default_factory=dict)
    courses: dict[int, Course] = field(default_factory=dict)
    categories: dict[int, tuple[str, int]] = field(default_factory=lambda: {1: ("Miscellaneous", 0)})
    enrolments: dict[tuple[int, int], set[str]] = field(default_factory=dict)
    prev_path: str = ""
    prev_time: int | None = None
    prev_md5: str | None = None
    log: list[str] = field(default_factory=list)
    runs: int = 0
    _ids: int = 100

    # -- the scheduled task -------------------------------------------------------------------------------

    def cron(self, path: Path) -> bool:
        """Moodle's scheduled task for ``path``; True when it processed the file."""
        if not path.exists():
            self.log.append(f"File not found: {path}")
            return False
        md5 = hashlib.md5(path.read_bytes()).hexdigest()
        mtime = int(os.stat(path).st_mtime)
        new = False
        if not self.prev_path or str(path) != self.prev_path:
            new = True
        elif self.prev_time is not None and mtime <= self.prev_time:
            self.log.append("File modification time is not more recent than last update - skipping processing.")
        elif self.prev_md5 is not None and md5 == self.prev_md5:
            self.log.append("File MD5 hash is same as on last update - skipping processing.")
        else:
            new = True
        if new:
            self.process(path.read_bytes())
        self.prev_time, self.prev_md5, self.prev_path = mtime, md5, str(path)
        return new

    def process(self, data: bytes) -> None:
        self.runs += 1
        cache = ""
        going = True
        for raw in data.splitlines(keepends=True):
            if not going:
                break
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:  # PostgreSQL: invalid byte sequence for encoding "UTF8"
                raise MoodleAborted(f"invalid UTF-8: {exc}") from None
            cache += line
            while True:
                for name in ("group", "person", "membership", "comments", "properties"):
                    if f"</{name}>" not in line.lower():
                        continue
                    found = TAG[name].search(cache)
                    if found is None:
                        continue
                    contents = found.group(1)
                    if name == "group":
                        self.group_tag(contents)
                    elif name == "person":
                        self.person_tag(contents)
                    elif name == "membership":
                        self.membership_tag(contents)
                    elif name == "properties":
                        going = self.properties_tag(contents)
                    cache = TAG[name].sub("", cache, count=1).strip()
                    break
                else:
                    break

    # -- records ----------------------------------------------------------------------------------------

    def properties_tag(self, contents: str) -> bool:
        if self.imsrestricttarget and TARGET.format(re.escape(self.imsrestricttarget)).lower() not in contents.lower():
            self.log.append(f'Skipping processing: required target "{self.imsrestricttarget}" not specified')
            return False
        return True

    def group_tag(self, contents: str) -> None:
        found = SOURCEDID_ID.search(contents)
        code = found.group(1).strip() if found else ""
        parts = {part: m.group(1).strip() for part, rx in DESC.items() if (m := rx.search(contents))}
        units: list[str] = []
        if org := ORG.search(contents):
            units = [u.strip() for u in ORGUNIT.findall(org.group(1))]
        status = recstatus(contents, "group")
        if not code:
            self.log.append("Error: Unable to find course code in 'group' element.")
            return
        course = self.course(code)
        if course is None:
            if not self.createnewcourses:
                return
            shortname = code  # imscoursemapshortname = coursecode
            fullname = parts.get("short") or code  # imscoursemapfullname = short
            if any(c.shortname == shortname for c in self.courses.values()):
                raise MoodleAborted(f"Short name is already used for another course ({shortname})")
            cid = self._id()
            self.courses[cid] = Course(cid, code, shortname, fullname, self.category(units))
        elif status == 2:
            if self.updatecourses:
                if parts.get("short") and parts["short"] != course.shortname:
                    if any(c.shortname == parts["short"] and c.id != course.id for c in self.courses.values()):
                        raise MoodleAborted(f"Short name is already used for another course ({parts['short']})")
                    course.shortname = parts["short"]
                if parts.get("full"):
                    course.fullname = parts["full"]
        elif status == 3:
            course.visible = False

    def category(self, units: list[str]) -> int:
        if not units:
            return 1
        catid = 0
        for name in units:
            parent = catid
            found = [cid for cid, (n, p) in self.categories.items()
                     if n == name and (not self.nestedcategories or p == parent)]
            if found:
                catid = found[0]
                continue
            if not self.createnewcategories:
                return 1
            catid = self._id()
            self.categories[catid] = (name, parent)
        return catid

    def person_tag(self, contents: str) -> None:
        fields: dict[str, str] = {}
        if m := SOURCEDID_ID.search(contents):
            fields["idnumber"] = m.group(1).strip()
        if m := GIVEN.search(contents):
            fields["firstname"] = m.group(1).strip()
        if m := FAMILY.search(contents):
            fields["lastname"] = m.group(1).strip()
        if m := USERID.search(contents):
            fields["username"] = m.group(1).strip()
        if m := AUTH.search(contents):
            fields["auth"] = m.group(1).strip()
        if m := EMAIL.search(contents):
            fields["email"] = m.group(1).strip()
        status = recstatus(contents, "person")
        idnumber = fields.get("idnumber", "")
        username = fields.get("username", "")
        if status == 3:
            if not self.imsdeleteusers:
                return
            user = next((u for u in self.users.values() if u.username == username and not u.deleted), None)
            if user is None:
                self.log.append(f"Can not delete user '{username}' - user does not exist.")
                return
            user.deleted, user.idnumber, user.username = True, "", f"deleted.{user.id}"
            for ident in [k for k in self.enrolments if k[0] == user.id]:
                del self.enrolments[ident]
            return
        if status == 2:
            if not self.imsupdateusers:
                return
            user = self.user(idnumber)
            if user is None:
                self.log.append(f"Ignoring update request for non-existent user {username}")
                return
            for name, value in fields.items():
                setattr(user, name, value)
            return
        if self.user(idnumber) is None and self.createnewusers:
            if not username:
                self.log.append(f"Cannot create new user for ID # {idnumber}- no username listed in IMS data")
                return
            same = next((u for u in self.users.values() if u.username == username and not u.deleted), None)
            if same is not None:
                same.idnumber = idnumber
                return
            uid = self._id()
            self.users[uid] = User(uid, idnumber, username, fields.get("firstname", ""), fields.get("lastname", ""),
                                   fields.get("email", ""), fields.get("auth") or self.default_auth)

    def membership_tag(self, contents: str) -> None:
        found = SOURCEDID_ID.search(contents)
        course = self.course(found.group(1).strip()) if found else None
        if course is None:
            return
        for member in MEMBER.findall(contents):
            m = SOURCEDID_ID.search(member)
            idnumber = m.group(1).strip() if m else ""
            role = ROLETYPE.search(member)
            roletype = role.group(1).strip() if role else ""
            s = STATUS.search(member)
            active = s.group(1).strip() if s else "0"
            if recstatus(member, "role") == 3:
                active = "0"
            user = self.user(idnumber)
            if user is None:
                continue
            moodle_role = self.role_map.get(roletype) or self.role_map.get(
                next((code for code, name in IMS_ROLES.items() if name == roletype), ""))
            if not moodle_role:
                self.log.append(f"SKIPPING role {roletype} for {user.id}")
                continue
            if int(active or 0) == 1:
                self.enrolments.setdefault((user.id, course.id), set()).add(moodle_role)
            elif self.imsunenrol:
                self.enrolments.pop((user.id, course.id), None)

    # -- lookups ------------------------------------------------------------------------------------------

    def user(self, idnumber: str) -> User | None:
        if not idnumber:
            return None
        return next((u for u in self.users.values() if u.idnumber == idnumber and not u.deleted), None)

    def course(self, idnumber: str) -> Course | None:
        return next((c for c in self.courses.values() if c.idnumber == idnumber), None)

    def _id(self) -> int:
        self._ids += 1
        return self._ids

    # -- views for the tests ----------------------------------------------------------------------------

    def live_users(self) -> dict[str, User]:
        return {u.idnumber: u for u in self.users.values() if not u.deleted}

    def enrolled(self) -> dict[tuple[str, str], set[str]]:
        """(user idnumber, course idnumber) → Moodle roles."""
        return {(self.users[u].idnumber, self.courses[c].idnumber): roles for (u, c), roles in self.enrolments.items()}

    def category_path(self, course: Course) -> list[str]:
        path, cid = [], course.category
        while cid in self.categories and cid != 0:
            name, parent = self.categories[cid]
            path.append(name)
            cid = parent
        return list(reversed(path))
