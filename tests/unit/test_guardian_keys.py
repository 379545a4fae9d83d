"""Key format, the hashed key file, authentication, revocation and reloading (guardian.keys)."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
from pathlib import Path

import pytest

import guardian.keys as keys_module
from guardian.keys import (
    KeyFileError,
    KeyStore,
    generate_key,
    hash_key,
    parse_key_id,
    read_key_file,
    write_key_file,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "alice" / "keys.json"


def test_generated_key_has_the_documented_shape() -> None:
    key_id, key = generate_key()
    prefix, id_part, secret = key.split("_", 2)
    assert (prefix, id_part) == ("alice", key_id)
    assert re.fullmatch(r"[a-z0-9]{8}", key_id)
    assert len(secret) >= 32
    assert parse_key_id(key) == key_id


def test_keys_are_unique() -> None:
    assert len({generate_key()[1] for _ in range(200)}) == 200


@pytest.mark.parametrize(
    "presented",
    ["", "alice", "alice_abc_def", "bob_abcdefgh_" + "x" * 40, "alice_ABCDEFGH_" + "x" * 40, "alice_abcdefgh_short"],
)
def test_malformed_keys_have_no_id(presented: str) -> None:
    assert parse_key_id(presented) is None


def test_secret_may_contain_underscores() -> None:
    assert parse_key_id("alice_abcd1234_" + "a_b-" * 10) == "abcd1234"


def test_create_stores_only_the_hash_with_owner_only_permissions(path: Path) -> None:
    store = KeyStore(path)
    key, record = store.create("acme", "admin")
    raw = path.read_text()
    assert key not in raw and key.split("_", 2)[2] not in raw
    assert record.hash == hash_key(key) and record.hash in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(raw)
    assert set(data["keys"][0]) == {"id", "hash", "tenant", "role", "created_at", "revoked_at"}
    assert data["keys"][0]["revoked_at"] is None and data["keys"][0]["created_at"].endswith("Z")


def test_create_refuses_bad_tenant_or_role(path: Path) -> None:
    store = KeyStore(path)
    with pytest.raises(ValueError, match="role"):
        store.create("acme", "root")
    with pytest.raises(ValueError, match="tenant"):
        store.create("has space", "user")
    assert not path.exists()


def test_authenticate_accepts_a_created_key(path: Path) -> None:
    writer = KeyStore(path)
    key, record = writer.create("acme", "user")
    reader = KeyStore(path)
    reader.load()
    assert reader.authenticate(key) == record
    assert reader.check(key).reason == "ok"


def test_check_says_why_a_key_fails(path: Path) -> None:
    store = KeyStore(path)
    key, record = store.create("acme", "user")
    store.load()
    wrong = f"alice_{record.id}_" + "x" * 43
    unknown_id = "alice_zzzzzzzz_" + key.split("_", 2)[2]
    assert store.check(None).reason == "missing"
    assert store.check("").reason == "missing"
    assert store.check("Basic dXNlcjpwYXNz").reason == "malformed"
    assert store.check(unknown_id).reason == "unknown_id"
    assert store.check(wrong).reason == "wrong_secret"
    assert store.authenticate(wrong) is None


def test_unknown_and_known_ids_both_compare_in_constant_time(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = KeyStore(path)
    key, record = store.create("acme", "user")
    store.load()
    calls: list[tuple[str, str]] = []
    real = keys_module.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    store.check(key)
    store.check(f"alice_{record.id}_" + "y" * 43)
    store.check("alice_zzzzzzzz_" + "y" * 43)
    assert len(calls) == 3  # the unknown id is compared too (against a dummy), not short-circuited
    assert all(len(a) == len(b) == 64 for a, b in calls)


def test_revoke_marks_the_key_and_is_idempotent(path: Path) -> None:
    store = KeyStore(path)
    key, record = store.create("acme", "user")
    revoked = store.revoke(record.id)
    assert revoked is not None and revoked.revoked_at is not None and not revoked.active
    again = store.revoke(record.id)
    assert again is not None and again.revoked_at == revoked.revoked_at
    assert store.revoke("nosuchid") is None
    store.load()
    assert store.check(key).reason == "revoked"


def test_list_returns_every_key_oldest_first(path: Path) -> None:
    store = KeyStore(path)
    assert store.list() == []
    ids = [store.create(f"t{i}", "user")[1].id for i in range(3)]
    store.revoke(ids[1])
    listed = store.list()
    assert [r.id for r in listed] == ids
    assert [r.active for r in listed] == [True, False, True]


def test_guardian_sees_a_revocation_after_the_reload_interval(path: Path) -> None:
    cli = KeyStore(path)
    key, record = cli.create("acme", "user")
    clock = FakeClock()
    guardian = KeyStore(path, reload_interval_s=1.0, clock=clock)
    guardian.load()
    assert guardian.authenticate(key) is not None
    cli.revoke(record.id)
    clock.now += 0.5
    assert guardian.authenticate(key) is not None  # not re-checked yet: at most one stat a second
    clock.now += 0.6
    assert guardian.check(key).reason == "revoked"


def test_refresh_only_rereads_a_changed_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = KeyStore(path)
    cli.create("acme", "user")
    clock = FakeClock()
    guardian = KeyStore(path, reload_interval_s=1.0, clock=clock)
    guardian.load()
    clock.now += 5
    assert guardian.refresh() is False
    new_key, _ = cli.create("beta", "user")
    assert guardian.refresh() is False  # checked 0 s ago
    clock.now += 1
    assert guardian.refresh() is True
    assert guardian.authenticate(new_key) is not None


def test_a_new_key_works_at_once(path: Path) -> None:
    cli = KeyStore(path)
    cli.create("acme", "user")
    clock = FakeClock()
    guardian = KeyStore(path, reload_interval_s=1.0, clock=clock)
    guardian.load()
    new_key, _ = cli.create("beta", "user")
    assert guardian.check(new_key).reason == "ok"  # an unknown id forces one stat, inside the interval
    assert guardian.check("alice_zzzzzzzz_" + "x" * 43).reason == "unknown_id"


def test_a_corrupt_file_keeps_the_last_good_keys(path: Path) -> None:
    cli = KeyStore(path)
    key, _ = cli.create("acme", "user")
    clock = FakeClock()
    guardian = KeyStore(path, clock=clock)
    guardian.load()
    path.write_text("{not json")
    clock.now += 2
    assert guardian.authenticate(key) is not None
    assert guardian.last_error is not None and "not valid" in guardian.last_error
    with pytest.raises(KeyFileError):
        KeyStore(path).load()


def test_a_missing_file_means_no_keys(path: Path) -> None:
    store = KeyStore(path)
    store.load()
    assert store.check(generate_key()[1]).reason == "unknown_id"


def test_write_is_atomic_and_leaves_no_temporary_files(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = KeyStore(path)
    store.create("acme", "user")
    before = path.read_text()

    def fail(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(keys_module.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store.create("beta", "user")
    assert path.read_text() == before
    assert not [name for name in os.listdir(path.parent) if name.endswith(".tmp")]


def test_concurrent_creates_lose_nothing(path: Path) -> None:
    def create_many(tenant: str) -> None:
        store = KeyStore(path)
        for _ in range(10):
            store.create(tenant, "user")

    threads = [threading.Thread(target=create_many, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(KeyStore(path).list()) == 40


def test_read_key_file_rejects_an_unknown_role(path: Path) -> None:
    write_key_file(path, [])
    path.write_text(json.dumps({"keys": [{"id": "a", "hash": "h", "tenant": "t", "role": "root"}]}))
    with pytest.raises(KeyFileError, match="role"):
        read_key_file(path)
