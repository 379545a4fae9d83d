"""``alice up`` refuses clearly when it cannot work, instead of half-starting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from procs import REPO, free_port, processes_with_home


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


def test_children_die_with_a_killed_alice_up(tmp_path):
    """Even SIGKILL of `alice up` (no chance to clean up) leaves no service behind."""
    ports = {
        v: str(free_port())
        for v in (
            "ALICE_CADDY_PORT",
            "ALICE_CADDY_ADMIN_PORT",
            "GUARDIAN_PORT",
            "ORCHESTRATOR_PORT",
            "NLU_PORT",
            "MODELSERVER_PORT",
            "ALICE_REDIS_PORT",
        )
    }
    env = {
        **os.environ,
        "ALICE_HOME": str(tmp_path),
        "ALICE_MODEL": "smollm2:135m",
        **ports,
        "NLU_MODEL_DIR": os.environ.get("NLU_MODEL_DIR") or str(Path.home() / ".alice" / "nlu"),
        "ALICE_MODELS_DIR": os.environ.get("ALICE_MODELS_DIR") or str(Path.home() / ".alice" / "models"),
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "alice.cli", "up", "--no-pull", "--no-caddy"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while not processes_with_home(tmp_path) or len(processes_with_home(tmp_path)) < 4:
            assert up.poll() is None, up.stderr.read().decode() if up.stderr else ""
            assert time.monotonic() < deadline, "services did not start"
            time.sleep(0.5)
    finally:
        up.kill()
        up.wait(timeout=10)
    deadline = time.monotonic() + 20
    while processes_with_home(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.3)
    left = processes_with_home(tmp_path)
    for proc in left:
        proc.kill()
    assert not left, f"orphans after SIGKILL: {[p.pid for p in left]}"
