"""A fixed-latency Ollama-API server: the LLM stand-in of the performance benches (``alice bench peers``,
``alice bench load``), so what they measure is the gateway in front of it, not a model.

Every generation (``POST /api/chat``, ``/api/generate``) answers after exactly ``delay_s`` with a short Swedish
text derived from the last user message; a request with a JSON-schema ``format`` gets an object of that schema
(string properties carry the text; an enum takes ``"inget"`` when offered, else its first value), so Alice's
micro and planner routes accept it as they would a model's. ``"stream": true`` answers as NDJSON: one piece,
then the closing ``done`` line. ``GET /api/tags``, ``/api/version`` and ``POST /api/show`` answer as Ollama's do;
``GET /stats`` counts generations (a cache hit never reaches this server).

Run it in its own process so its CPU is not counted as the gateway's:
``python -m alice.cli.fixedbackend --port 11500 --delay 0.2``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fixed"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def answer_text(request: dict[str, Any]) -> str:
    """The answer to a chat or generate request: a fixed phrase about its last user message."""
    messages = request.get("messages") or []
    users = [m.get("content", "") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    asked = str(users[-1] if users else request.get("prompt", ""))
    return f"Här är ett kort svar om: {asked[:80]}"


def shaped(text: str, schema: Any) -> str:
    """``text`` as the JSON object ``schema`` asks for (plain ``text`` when there is no object schema)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return json.dumps({"svar": text}, ensure_ascii=False) if schema == "json" else text
    out: dict[str, Any] = {}
    for name, spec in schema["properties"].items():
        spec = spec if isinstance(spec, dict) else {}
        if "enum" in spec and spec["enum"]:
            out[name] = "inget" if "inget" in spec["enum"] else spec["enum"][0]
        elif spec.get("type") in ("integer", "number"):
            out[name] = 0
        elif spec.get("type") == "boolean":
            out[name] = False
        else:
            out[name] = text if name in ("svar", "answer", "response", "text") or len(out) == 0 else ""
    return json.dumps(out, ensure_ascii=False)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body leave in separate writes: without this, Nagle + delayed ACK add ~40 ms to every answer
    disable_nagle_algorithm = True
    server: FixedLatencyServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        return

    def _send(self, status: int, payload: Any, media_type: str = "application/json") -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any]:
        size = int(self.headers.get("Content-Length") or 0)
        try:
            parsed = json.loads(self.rfile.read(size) or b"{}") if size else {}
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        model = self.server.model
        if self.path == "/api/tags":
            details = {"family": "fixed", "parameter_size": "0B", "quantization_level": "none"}
            self._send(
                200,
                {
                    "models": [
                        {
                            "name": model,
                            "model": model,
                            "modified_at": _now(),
                            "size": 1,
                            "digest": "0" * 64,
                            "details": details,
                        }
                    ]
                },
            )
        elif self.path == "/api/version":
            self._send(200, {"version": "0.0.0-fixed"})
        elif self.path == "/stats":
            self._send(200, self.server.stats())
        elif self.path == "/":
            self._send(200, b"Ollama is running", "text/plain")
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        request = self._body()
        if self.path == "/api/show":
            self._send(200, {"modelfile": "", "parameters": "", "template": "", "details": {"family": "fixed"}})
            return
        if self.path not in ("/api/chat", "/api/generate"):
            self._send(404, {"error": "not found"})
            return
        self.server.count()
        time.sleep(self.server.delay_s)
        text = shaped(answer_text(request), request.get("format"))
        chat = self.path == "/api/chat"
        piece: dict[str, Any] = {"model": request.get("model", self.server.model), "created_at": _now()}
        piece.update({"message": {"role": "assistant", "content": text}} if chat else {"response": text})
        closing = {
            **piece,
            "done": True,
            "done_reason": "stop",
            "total_duration": int(self.server.delay_s * 1e9),
            "prompt_eval_count": 12,
            "eval_count": max(1, len(text) // 4),
        }
        if request.get("stream", True) is False:
            self._send(200, closing)
            return
        empty = {"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}
        lines = [json.dumps({**piece, "done": False}, ensure_ascii=False), json.dumps({**closing, **empty})]
        self._send(200, ("\n".join(lines) + "\n").encode(), "application/x-ndjson")


class FixedLatencyServer(ThreadingHTTPServer):
    """The server; ``serve_forever`` in a thread (:meth:`start`) or the process (``main``)."""

    daemon_threads = True
    # socketserver's default backlog is 5: 32 clients connecting at once overflow it, and the dropped SYNs are
    # retried after a second, which reads as a 1 s tail of the "backend"
    request_queue_size = 128

    def __init__(self, port: int, delay_s: float, model: str = MODEL, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), _Handler)
        self.delay_s = delay_s
        self.model = model
        self._lock = threading.Lock()
        self._generations = 0

    def count(self) -> None:
        with self._lock:
            self._generations += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"generations": self._generations}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (stop with ``shutdown()``)."""
        thread = threading.Thread(target=self.serve_forever, name="fixed-backend", daemon=True)
        thread.start()
        return thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds before each generation answers")
    parser.add_argument("--model", default=MODEL)
    args = parser.parse_args(argv)
    server = FixedLatencyServer(args.port, args.delay, args.model)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
