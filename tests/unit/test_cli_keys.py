"""``alice keys create|list|revoke`` on a key file of its own (what an operator runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from alice.cli import app
from guardian.keys import KeyStore


def test_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.json"
    monkeypatch.setenv("GUARDIAN_KEYS_FILE", str(path))
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--tenant", "acme", "--role", "user"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    record = KeyStore(path).authenticate(key)
    assert record is not None and (record.tenant, record.role) == ("acme", "user")
    listed = runner.invoke(app, ["keys", "list"])
    assert f"{record.id}\tacme\tuser\tactive" in listed.stdout and key not in listed.stdout  # never the key
    assert runner.invoke(app, ["keys", "revoke", record.id]).exit_code == 0
    assert KeyStore(path).authenticate(key) is None  # a fresh reader (a guardian) refuses it at once
    assert f"{record.id}\tacme\tuser\trevoked" in runner.invoke(app, ["keys", "list"]).stdout
    unknown = runner.invoke(app, ["keys", "revoke", "nosuchid"])
    # `alice` (main) prints an AliceError as one "error:" line; the app itself raises it
    assert unknown.exit_code != 0 and "no key with id 'nosuchid'" in str(unknown.exception)
