"""A small client for ``alice chat``: one message, the answer printed (streamed by default)."""

from __future__ import annotations

import json
import sys

import httpx
import typer

from alice.errors import ConfigError


def _raise_problem(response: httpx.Response) -> None:
    try:
        body = response.json()
        detail = f"{body.get('title')}: {body.get('detail')}"
    except ValueError:
        detail = response.text[:200]
    raise ConfigError(f"Alice answered {response.status_code} — {detail}")


def run_chat(url: str, key: str, message: str, stream: bool, session: str | None = None) -> None:
    """Send ``message`` to ``url``/api/chat (in the conversation ``session``, when given) and print the answer (and
    route details on stderr)."""
    headers = {"Authorization": f"Bearer {key}"}
    body: dict[str, object] = {"message": message, "stream": stream}
    if session:
        body["session_id"] = session
    try:
        with httpx.Client(base_url=url, timeout=httpx.Timeout(180, connect=5)) as client:
            if not stream:
                r = client.post("/api/chat", json=body, headers=headers)
                if r.status_code != 200:
                    _raise_problem(r)
                data = r.json()
                typer.echo(data["response"])
                typer.echo(
                    f"[route={data['route']} intent={data['intent']} model={data['model']} "
                    f"{data['latency_ms']:.0f} ms]",
                    err=True,
                )
                return
            with client.stream("POST", "/api/chat", json=body, headers=headers) as r:
                if r.status_code != 200:
                    r.read()
                    _raise_problem(r)
                _print_sse(r)
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot reach Alice at {url}: {type(exc).__name__}. Is `alice up` running?") from None


def _print_sse(response: httpx.Response) -> None:
    event = "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = json.loads(line[5:].strip() or "{}")
            if event == "delta":
                sys.stdout.write(data.get("content", ""))
                sys.stdout.flush()
            elif event == "done":
                sys.stdout.write("\n")
                typer.echo(
                    f"[route={data.get('route')} intent={data.get('intent')} model={data.get('model')} "
                    f"{data.get('latency_ms', 0):.0f} ms]",
                    err=True,
                )
            elif event == "error":
                sys.stdout.write("\n")
                raise ConfigError(f"stream failed: {data.get('detail')}")
        elif not line:
            event = "message"
