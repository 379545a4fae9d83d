"""Keys from GUARDIAN_API_KEYS: parsed, hashed at load, never kept in plaintext."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from guardian.keys import KeyStore, generate_key, hash_key, parse_inline_keys
from guardian.settings import GuardianSettings


def test_inline_keys_are_hashed() -> None:
    (id1, key1), (id2, key2) = generate_key(), generate_key()
    records = parse_inline_keys(f"{key1}:acme:user, {key2}:ops:admin,")
    assert [(r.id, r.tenant, r.role) for r in records] == [(id1, "acme", "user"), (id2, "ops", "admin")]
    assert records[0].hash == hash_key(key1)
    assert key1 not in repr(records)


@pytest.mark.parametrize("spec", [None, "", " , "])
def test_no_inline_keys(spec: str | None) -> None:
    assert parse_inline_keys(spec) == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{key}:acme", "expected <key>:<tenant>:<role>"),
        ("{key}:acme:root", "role"),
        ("{key}::user", "tenant"),
        ("not-a-key:acme:user", "not an Alice key"),
        ("{key}:acme:user,{key}:beta:user", "twice"),
    ],
)
def test_bad_inline_keys_are_refused(spec: str, message: str) -> None:
    key = generate_key()[1]
    with pytest.raises(ValueError, match=message) as caught:
        parse_inline_keys(spec.format(key=key))
    assert key not in str(caught.value)


def test_settings_hash_inline_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key_id, key = generate_key()
    monkeypatch.setenv("GUARDIAN_API_KEYS", f"{key}:acme:admin")
    settings = GuardianSettings(internal_secret="x" * 32)
    assert [(r.id, r.tenant, r.role) for r in settings.api_keys] == [(key_id, "acme", "admin")]
    assert key not in repr(settings) and key not in str(settings.model_dump())


def test_a_bad_environment_key_does_not_leak_into_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()[1]
    monkeypatch.setenv("GUARDIAN_API_KEYS", f"{key}:acme:superuser")
    with pytest.raises(ValidationError) as caught:
        GuardianSettings()
    assert "role" in str(caught.value)
    assert key not in str(caught.value)


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ALICE_HOME", str(tmp_path))
    settings = GuardianSettings(internal_secret="x" * 32)
    assert settings.port == 8787
    assert settings.upstream_url == "http://127.0.0.1:8000"
    assert (settings.upstream_timeout_s, settings.upstream_connect_timeout_s) == (120.0, 2.0)
    assert (settings.max_body_bytes, settings.max_message_chars) == (65536, 4000)
    assert settings.keys_file == tmp_path / "keys.json"
    assert settings.api_keys == ()


def test_inline_keys_authenticate_alongside_the_file(tmp_path: Path) -> None:
    key_id, key = generate_key()
    store = KeyStore(tmp_path / "keys.json", inline=parse_inline_keys(f"{key}:ci:user"))
    file_key, _ = store.create("acme", "user")
    store.load()
    record = store.authenticate(key)
    assert record is not None and (record.id, record.tenant) == (key_id, "ci")
    assert store.authenticate(file_key) is not None
    assert [r.tenant for r in store.list()] == ["acme"]  # the CLI lists the file only


def test_internal_secret_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALICE_INTERNAL_SECRET", raising=False)
    with pytest.raises(ValidationError, match="ALICE_INTERNAL_SECRET"):
        GuardianSettings()
    with pytest.raises(ValidationError, match="at least 16"):
        GuardianSettings(internal_secret="change-me")
