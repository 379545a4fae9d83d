"""API keys: their format, how they are stored (hashed), and the file-backed :class:`KeyStore`.

A key looks like ``alice_<id>_<secret>``: ``id`` is 8 lowercase letters and digits (public; it names the
key in logs, metrics and ``alice keys list``), ``secret`` is ``secrets.token_urlsafe(32)`` (43 characters,
256 bits). The plaintext is shown once, at creation; only its hash is stored.

Why plain SHA-256 (of the whole key) and not scrypt or bcrypt: slow hashes exist to protect low-entropy
passwords against offline guessing. A 256-bit random secret cannot be guessed whatever the hash costs, so a
slow hash would add nothing but CPU on every request (tens of milliseconds on a 2-core box, and a lever for
a denial of service with made-up keys). This is what GitHub and Stripe tokens do. Lookups go by ``id`` and
the hashes are compared with :func:`hmac.compare_digest`, so timing reveals nothing about the secret.

The key file is JSON, ``{"keys": [{"id", "hash", "tenant", "role", "created_at", "revoked_at"}]}``, written
atomically (a temporary file in the same directory, then ``os.replace``) with mode 0600. The guardian
re-reads it when it changes (checked at most once per ``reload_interval_s``, and at once for an unknown key
id), so a key from ``alice keys create`` works at once and ``alice keys revoke`` takes effect within a second,
without a restart.

Keys from the environment (``GUARDIAN_API_KEYS="<key>:<tenant>:<role>,..."``, for compose and CI) are
hashed by :func:`parse_inline_keys` as they are read; they authenticate like file keys and are revoked by
removing them from the environment.

Nothing here imports FastAPI: ``alice keys create|list|revoke`` uses these functions directly.
"""

from __future__ import annotations

import builtins
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog

from alice.errors import ConfigError

Role = Literal["user", "admin"]
ROLES: tuple[str, ...] = ("user", "admin")
KEY_PREFIX = "alice"
ID_LENGTH = 8
SECRET_BYTES = 32
MIN_SECRET_CHARS = 32
_ID_ALPHABET = string.ascii_lowercase + string.digits
_KEY_RE = re.compile(r"^alice_(?P<id>[a-z0-9]{8})_(?P<secret>[A-Za-z0-9_\-]{32,256})$")
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")

log = structlog.get_logger("guardian.keys")

_DUMMY_HASH = "0" * 64

Reason = Literal["ok", "missing", "malformed", "unknown_id", "wrong_secret", "revoked"]


class KeyFileError(ConfigError):
    """The key file exists but cannot be read as a key file."""


@dataclass(frozen=True)
class KeyRecord:
    """One stored key; never holds the plaintext."""

    id: str
    hash: str
    tenant: str
    role: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """False once the key is revoked."""
        return self.revoked_at is None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyRecord:
        """Build a record from one entry of the key file (raises ``KeyError``/``ValueError`` when wrong)."""
        record = cls(
            id=str(data["id"]),
            hash=str(data["hash"]),
            tenant=str(data["tenant"]),
            role=str(data["role"]),
            created_at=str(data.get("created_at") or ""),
            revoked_at=None if data.get("revoked_at") is None else str(data["revoked_at"]),
        )
        if record.role not in ROLES:
            raise ValueError(f"key {record.id}: unknown role {record.role!r}")
        return record


@dataclass(frozen=True)
class AuthResult:
    """The outcome of checking a presented key: the record when accepted, and why when not."""

    record: KeyRecord | None
    reason: Reason


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256 of the whole key (see the module docstring for why)."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> tuple[str, str]:
    """A fresh ``(key_id, plaintext_key)``."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    return key_id, f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(SECRET_BYTES)}"


def parse_key_id(presented: str) -> str | None:
    """The id part of a well-formed key, or None when the string is not shaped like an Alice key."""
    match = _KEY_RE.match(presented)
    return match.group("id") if match else None


def _now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _check_tenant_role(tenant: str, role: str) -> None:
    if not _TENANT_RE.match(tenant):
        raise ValueError("tenant must be 1-64 characters: letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")


def verify(records: dict[str, KeyRecord], presented: str | None) -> AuthResult:
    """Check ``presented`` against ``records`` (by id): constant-time hash comparison, revocation."""
    if not presented:
        return AuthResult(None, "missing")
    key_id = parse_key_id(presented)
    if key_id is None:
        return AuthResult(None, "malformed")
    digest = hash_key(presented)
    record = records.get(key_id)
    # Compare against a dummy when the id is unknown, so both paths cost the same.
    matches = hmac.compare_digest(digest, record.hash if record else _DUMMY_HASH)
    if record is None:
        return AuthResult(None, "unknown_id")
    if not matches:
        return AuthResult(None, "wrong_secret")
    if not record.active:
        return AuthResult(None, "revoked")
    return AuthResult(record, "ok")


def parse_inline_keys(spec: str | None) -> tuple[KeyRecord, ...]:
    """Hash ``"<key>:<tenant>:<role>,..."`` into records; the plaintext is not kept."""
    records: list[KeyRecord] = []
    for position, item in enumerate((spec or "").split(","), start=1):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 3:
            raise ValueError(f"inline key #{position}: expected <key>:<tenant>:<role>")
        key, tenant, role = (p.strip() for p in parts)
        key_id = parse_key_id(key)
        if key_id is None:
            raise ValueError(f"inline key #{position}: not an Alice key (alice_<id>_<secret>)")
        _check_tenant_role(tenant, role)
        records.append(KeyRecord(key_id, hash_key(key), tenant, role, created_at="environment"))
    ids = [r.id for r in records]
    if len(ids) != len(set(ids)):
        raise ValueError("inline keys: the same key id appears twice")
    return tuple(records)


def read_key_file(path: Path) -> list[KeyRecord]:
    """The records in ``path`` (empty when the file does not exist)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        return [KeyRecord.from_json(item) for item in data["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"key file {path} is not valid: {exc}") from None


def write_key_file(path: Path, records: Iterable[KeyRecord]) -> None:
    """Write ``records`` atomically (temporary file + ``os.replace``), readable by the owner only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = json.dumps({"keys": [asdict(r) for r in records]}, indent=2, ensure_ascii=False) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock for read-modify-write of ``path`` (readers never need it)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


FileStamp = tuple[int, int, int]


def _stamp(path: Path) -> FileStamp | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class KeyStore:
    """Keys in a JSON file (plus optional inline keys), re-read when the file changes.

    ``create``, ``list`` and ``revoke`` are for the CLI and always work on the file as it is on disk.
    ``authenticate``/``check`` serve the guardian from memory and stat the file at most once per
    ``reload_interval_s`` (plus once for an unknown key id, so a new key works at once); a changed file
    (mtime, size or inode) is re-read. A file that turns invalid while the guardian runs keeps the last
    good keys (``last_error`` says why, logged once). ``create`` and ``revoke`` hold an exclusive lock on
    ``<file>.lock`` so two CLI calls at once cannot lose each other's change.
    """

    def __init__(
        self,
        path: Path,
        *,
        inline: Iterable[KeyRecord] = (),
        reload_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.reload_interval_s = reload_interval_s
        self.last_error: str | None = None
        self._inline = {r.id: r for r in inline}
        self._clock = clock
        self._records: dict[str, KeyRecord] = {}
        self._stamp: FileStamp | None = None
        self._checked_at: float | None = None

    def load(self) -> None:
        """Read the file now; raises :class:`KeyFileError` when it is invalid (use at start-up)."""
        stamp = _stamp(self.path)
        self._records = {r.id: r for r in read_key_file(self.path)}
        self._stamp = stamp
        self._checked_at = self._clock()
        self.last_error = None

    def refresh(self, *, force: bool = False) -> bool:
        """Re-read the file if it changed (and the interval has passed, unless ``force``); True if re-read."""
        now = self._clock()
        recent = self._checked_at is not None and now - self._checked_at < self.reload_interval_s
        if recent and not force:
            return False
        self._checked_at = now
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return False
        try:
            self._records = {r.id: r for r in read_key_file(self.path)}
        except KeyFileError as exc:
            if self.last_error != str(exc):
                log.error("keys_file_invalid", error=str(exc), kept=len(self._records))
            self.last_error = str(exc)
            return False
        self._stamp = stamp
        self.last_error = None
        return True

    def check(self, presented: str | None) -> AuthResult:
        """Authenticate ``presented`` and say why it failed when it did."""
        self.refresh()
        result = self._verify(presented)
        # A key created a moment ago should work at once: an unknown id costs one extra stat, and the
        # file is re-read only when it actually changed.
        if result.reason == "unknown_id" and self.refresh(force=True):
            result = self._verify(presented)
        return result

    def _verify(self, presented: str | None) -> AuthResult:
        key_id = parse_key_id(presented or "")
        records = self._inline if key_id in self._inline else self._records
        return verify(records, presented)

    def authenticate(self, presented: str | None) -> KeyRecord | None:
        """The record of an active key matching ``presented``, else None."""
        return self.check(presented).record

    def create(self, tenant: str, role: str = "user") -> tuple[str, KeyRecord]:
        """Add a key; returns ``(plaintext, record)``. Show the plaintext once: it is not stored."""
        _check_tenant_role(tenant, role)
        with _locked(self.path):
            records = read_key_file(self.path)
            taken = {r.id for r in records} | set(self._inline)
            key_id, key = generate_key()
            while key_id in taken:
                key_id, key = generate_key()
            record = KeyRecord(key_id, hash_key(key), tenant, role, created_at=_now_iso())
            write_key_file(self.path, [*records, record])
        return key, record

    def list(self) -> builtins.list[KeyRecord]:
        """The keys in the file, revoked ones included, oldest first."""
        return read_key_file(self.path)

    def revoke(self, key_id: str) -> KeyRecord | None:
        """Mark ``key_id`` revoked (idempotent); None when there is no such key in the file."""
        with _locked(self.path):
            records = read_key_file(self.path)
            found: KeyRecord | None = None
            for index, record in enumerate(records):
                if record.id == key_id:
                    found = record if record.revoked_at else replace(record, revoked_at=_now_iso())
                    records[index] = found
            if found is not None:
                write_key_file(self.path, records)
        return found
