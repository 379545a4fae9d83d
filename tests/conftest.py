"""Session fixtures shared by integration and e2e tests. Everything here is a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from procs import REPO, free_port, processes_with_home

#: The guardian's trained injection model is versioned by a hash of its data and features: safe to share between
#: runs, and its first training (which embeds ~2,000 sentences) is then paid once per machine.
os.environ.setdefault("GUARDIAN_MODEL_DIR", str(Path.home() / ".alice" / "guardian"))

TEST_MODEL = "smollm2:135m"
TEST_SECRET = "e2e-internal-secret-0123456789abcdef"


@dataclass
class Mesh:
    """A mesh started by the real ``alice up`` command."""

    url: str
    key: str
    home: Path
    ports: dict[str, int]
    secret: str
    popen: subprocess.Popen[bytes]

    def log(self, service: str) -> str:
        path = self.home / "logs" / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


def _start_mesh(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[Mesh]:
    """``alice up`` on free ports with the small test model; stopped with SIGTERM at the end, no orphans."""
    ports = {
        name: free_port()
        for name in ("caddy", "caddy_admin", "guardian", "orchestrator", "nlu", "modelserver", "redis")
    }
    models_dir = os.environ.get("ALICE_MODELS_DIR") or str(Path.home() / ".alice" / "models")
    env = {
        **os.environ,
        "ALICE_HOME": str(home),
        "ALICE_MODELS_DIR": models_dir,
        "ALICE_MODEL": TEST_MODEL,
        # the NLU artifact is versioned by a hash of its data and config: safe to share between runs
        "NLU_MODEL_DIR": os.environ.get("NLU_MODEL_DIR") or str(Path.home() / ".alice" / "nlu"),
        "ALICE_INTERNAL_SECRET": TEST_SECRET,
        "ALICE_CADDY_PORT": str(ports["caddy"]),
        "ALICE_CADDY_ADMIN_PORT": str(ports["caddy_admin"]),
        "GUARDIAN_PORT": str(ports["guardian"]),
        "ORCHESTRATOR_PORT": str(ports["orchestrator"]),
        "NLU_PORT": str(ports["nlu"]),
        "MODELSERVER_PORT": str(ports["modelserver"]),
        "ALICE_REDIS_PORT": str(ports["redis"]),
    }
    for var in ("REDIS_URL", "OLLAMA_HOST", "GUARDIAN_KEYS_FILE"):
        env.pop(var, None)
    env.update(extra_env or {})
    out = (home / "alice-up.log").open("wb")
    popen = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "alice.cli", "up", "--no-pull"],
        env=env,
        cwd=REPO,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{ports['caddy']}"
    key = _wait_until_up(popen, home, url)
    yield Mesh(url=url, key=key, home=home, ports=ports, secret=TEST_SECRET, popen=popen)
    popen.send_signal(signal.SIGTERM)
    try:
        popen.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        raise
    leftovers = processes_with_home(home)
    for proc in leftovers:
        proc.kill()
    assert not leftovers, f"alice up left orphans: {[p.pid for p in leftovers]}"


def _wait_until_up(popen: subprocess.Popen[bytes], home: Path, url: str) -> str:
    deadline = time.monotonic() + 300
    while True:
        if popen.poll() is not None:
            raise RuntimeError("alice up exited:\n" + (home / "alice-up.log").read_text()[-4000:])
        key_file = home / "dev_api_key"
        if key_file.exists():
            key = key_file.read_text().strip()
            try:
                r = httpx.get(url + "/api/status", headers={"Authorization": f"Bearer {key}"}, timeout=2)
                if r.status_code == 200:
                    return key
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            popen.kill()
            raise RuntimeError("mesh not up in time:\n" + (home / "alice-up.log").read_text()[-4000:])
        time.sleep(0.5)


@pytest.fixture(scope="session", autouse=True)
def guardian_injection_model() -> None:
    """The guardian's injection model, trained (first run on a machine: ~40 s) before any guardian starts, so no
    guardian's start-up waits on it."""
    from guardian.injection import shipped_model

    shipped_model(Path(os.environ["GUARDIAN_MODEL_DIR"]), threads=2)


@pytest.fixture(scope="session")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The whole mesh with the real test model (and the warming telemetry on, so forgetting is tested on it)."""
    yield from _start_mesh(tmp_path_factory.mktemp("alice-home"), {"ORCHESTRATOR_TELEMETRY_ENABLED": "true"})


@pytest.fixture(scope="module")
def mesh_without_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """A mesh whose OLLAMA_HOST points at a closed port: the LLM backend is down."""
    closed = free_port()
    yield from _start_mesh(tmp_path_factory.mktemp("alice-home-nollm"), {"OLLAMA_HOST": f"http://127.0.0.1:{closed}"})
