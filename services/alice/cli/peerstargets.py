"""The processes ``alice bench peers`` measures: the fixed-latency backend and LiteLLM's proxy with its own Redis.

Each runs as a child process in its own session on a free loopback port, logs to a file, and is stopped with its
children when the bench ends. LiteLLM is started offline: the environment of :data:`LITELLM_OFFLINE` makes it read
its bundled model cost map and other data instead of fetching them, and ``OLLAMA_API_BASE`` points its start-up
model probe at the fixed backend (without it, it probes ``localhost:11434``: a real Ollama or Alice's own).
:func:`tree_cpu_s` is the CPU time of process trees, read with psutil.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import psutil

from alice.cli.mesh import REPO_ROOT, _die_with_parent, free_port
from alice.errors import ConfigError

LITELLM_OFFLINE: Final[dict[str, str]] = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOG": "ERROR",
    "DISABLE_SCHEMA_UPDATE": "true",
    "NO_DOCS": "True",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
LITELLM_KEY: Final = "sk-alice-bench-peers"


@dataclass
class Proc:
    """A started child: name, process handle, log file, and its loopback URL."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str


def spawn(name: str, cmd: Sequence[str], env: dict[str, str | None], log_dir: Path, url: str) -> Proc:
    """Start ``cmd`` in its own session, output to ``log_dir/<name>.log``; ``env`` adds to this process's
    environment (None: removes the variable)."""
    merged = {**os.environ, **{k: v for k, v in env.items() if v is not None}}
    for gone in (k for k, v in env.items() if v is None):
        merged.pop(gone, None)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("ab") as fh:
        popen = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            list(cmd),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=merged,
            cwd=REPO_ROOT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - Linux only, no threads yet
        )
    return Proc(name, popen, log, url)


def stop(proc: Proc) -> None:
    """SIGTERM the child's process group, SIGKILL it after 10 s."""
    if proc.popen.poll() is None:
        try:
            os.killpg(proc.popen.pid, signal.SIGTERM)
            proc.popen.wait(timeout=10)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=5)


def wait_http(proc: Proc, path: str, timeout_s: float) -> None:
    """Wait until ``proc.url + path`` answers 200; a ConfigError with the log's tail if it dies or is late."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-1500:]
                raise ConfigError(f"{proc.name} exited with code {proc.popen.returncode}; {proc.log}:\n{tail}")
            try:
                if client.get(proc.url + path).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise ConfigError(f"{proc.name} not ready within {timeout_s:.0f} s; see {proc.log}")


@contextmanager
def fixed_backend(delay_s: float, log_dir: Path, model: str = "fixed") -> Iterator[Proc]:
    """The fixed-latency Ollama-API backend in its own process."""
    port = free_port()
    cmd = [sys.executable, "-m", "alice.cli.fixedbackend", "--port", str(port), "--delay", str(delay_s),
           "--model", model]  # fmt: skip
    proc = spawn("fixed-backend", cmd, {}, log_dir, f"http://127.0.0.1:{port}")
    try:
        wait_http(proc, "/api/version", 30)
        yield proc
    finally:
        stop(proc)


def litellm_config(backend_url: str, redis_port: int, model: str = "fixed") -> dict[str, object]:
    """The proxy's config: one Ollama model at the backend, the Redis response cache, a master key, no DB."""
    return {
        "model_list": [
            {"model_name": model, "litellm_params": {"model": f"ollama_chat/{model}", "api_base": backend_url}}
        ],
        "litellm_settings": {
            "cache": True,
            "cache_params": {"type": "redis", "host": "127.0.0.1", "port": redis_port, "ttl": 3600},
            "telemetry": False,
            "drop_params": True,
            "turn_off_message_logging": True,
        },
        "general_settings": {
            "master_key": LITELLM_KEY,
            "disable_spend_logs": True,
            "disable_error_logs": True,
            "disable_adding_master_key_hash_to_db": True,
        },
    }


@contextmanager
def litellm_stack(venv_python: Path, backend_url: str, log_dir: Path) -> Iterator[list[Proc]]:
    """LiteLLM's proxy (one worker) with its own redis-server, both on free loopback ports; ``[proxy, redis]``."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConfigError("the LiteLLM target needs redis-server (apt-get install redis-server)")
    with ExitStack() as stack:
        redis_port = free_port()
        redis_cmd = [exe, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        redis = spawn("litellm-redis", redis_cmd, {}, log_dir, f"redis://127.0.0.1:{redis_port}")
        stack.callback(stop, redis)
        config = log_dir / "litellm-config.json"  # YAML is a superset of JSON: LiteLLM reads it as is
        config.write_text(json.dumps(litellm_config(backend_url, redis_port)))
        port = free_port()
        cmd = [str(venv_python.parent / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port",
               str(port), "--num_workers", "1"]  # fmt: skip
        env: dict[str, str | None] = {**LITELLM_OFFLINE, "OLLAMA_API_BASE": backend_url, "DATABASE_URL": None}
        proxy = spawn("litellm", cmd, env, log_dir, f"http://127.0.0.1:{port}")
        stack.callback(stop, proxy)
        # /health would call every model; liveliness only says the server is up
        wait_http(proxy, "/health/liveliness", 180)
        yield [proxy, redis]


def tree_cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds of the processes ``pids`` and all their descendants (gone ones count 0)."""
    total = 0.0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
    return total


def tree_rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of the processes ``pids`` and their descendants, in MiB."""
    total = 0
    for pid in pids:
        try:
            root = psutil.Process(pid)
            total += sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            continue
    return round(total / 2**20, 1)
