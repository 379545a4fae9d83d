"""Real processes for integration and e2e tests: redis-server, uvicorn services, Caddy.

Each process gets a free loopback port, writes its log to a file the test can read, and is stopped (with its
children) when the fixture ends. Nothing here is a fake: these are the same commands ``alice up`` runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from alice.cli.mesh import uvicorn_command

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """A child process with its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int
    url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, needle: str, timeout_s: float = 5.0) -> str:
        """The log once it holds ``needle`` (a service writes its request line after the answer has gone out)."""
        deadline = time.monotonic() + timeout_s
        text = self.log_text()
        while needle not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            text = self.log_text()
        return text

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)


def start(name: str, cmd: Sequence[str], port: int, log_dir: Path, env: dict[str, str] | None = None) -> Proc:
    log_path = log_dir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    fh = log_path.open("wb")
    popen = subprocess.Popen(  # noqa: S603
        list(cmd), stdout=fh, stderr=subprocess.STDOUT, env=full_env, cwd=REPO, start_new_session=True
    )
    return Proc(name=name, popen=popen, log_path=log_path, port=port, url=f"http://127.0.0.1:{port}", env=env or {})


def wait_http(proc: Proc, path: str = "/health", timeout_s: float = 60.0, expect: int = 200) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_text()[-3000:]}")
        try:
            r = httpx.get(proc.url + path, timeout=2.0)
            if r.status_code == expect:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(
        f"{proc.name} not answering {path} within {timeout_s}s (last: {last}):\n{proc.log_text()[-3000:]}"
    )


def start_redis(log_dir: Path, port: int | None = None, name: str = "redis") -> Proc:
    """A real redis-server (no persistence) on ``port`` (default: a free one), waited on until it answers PING."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server); tests need a real Redis")
    port = port or free_port()
    proc = start(
        name,
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        port,
        log_dir,
    )
    proc.url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.stop()
    raise RuntimeError("redis-server did not start:\n" + proc.log_text())


def start_service(
    name: str, app: str, log_dir: Path, env: dict[str, str] | None = None, ready_timeout_s: float = 90.0
) -> Proc:
    """``uvicorn <app> --factory`` on a free port, waited on until ``/health`` answers."""
    port = free_port()
    cmd = uvicorn_command(app, port)
    proc = start(name, cmd, port, log_dir, env)
    wait_http(proc, "/health", ready_timeout_s)
    return proc


def processes_with_home(home: Path) -> list[psutil.Process]:
    """Every live process whose environment has ``ALICE_HOME=home`` (what `alice up` started for that home)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("ALICE_HOME") == str(home):
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found
