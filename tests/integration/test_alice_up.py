"""``alice up`` refuses clearly when it cannot work, instead of half-starting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from procs import REPO


def run_up(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "ALICE_HOME": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "alice.cli", "up", "--no-pull"],
        env=full,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run_up(tmp_path, GUARDIAN_PORT=str(port))
    assert result.returncode == 2
    assert f"guardian (GUARDIAN_PORT) port {port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_is_a_clear_error(tmp_path):
    result = run_up(
        tmp_path,
        ALICE_MODELS_DIR=str(tmp_path / "empty"),
        ALICE_MODEL="smollm2:135m",
        GUARDIAN_PORT="0",
        ORCHESTRATOR_PORT="0",
        NLU_PORT="0",
        MODELSERVER_PORT="0",
        ALICE_CADDY_PORT="0",
        ALICE_CADDY_ADMIN_PORT="0",
        ALICE_REDIS_PORT="0",
    )
    assert result.returncode == 2
    assert "alice models pull smollm2:135m" in result.stderr


def test_bad_fibonacci_env_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "nlu.app:create_app", "--factory", "--port", "0"],
        env={**os.environ, "FIB_CACHE_TTLS_H": "1,2,banana"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "FIB_CACHE_TTLS_H" in result.stderr
