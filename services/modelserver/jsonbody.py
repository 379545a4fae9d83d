"""Read every ``/api/`` POST body as JSON, whatever its Content-Type, as Ollama does.

``curl http://localhost:11434/api/chat -d '{...}'`` (the Ollama docs' own examples) sends
``application/x-www-form-urlencoded``; FastAPI would then refuse the body. This pure-ASGI middleware marks
such bodies as JSON before routing; a body that is not JSON still fails validation with a clear 422.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

JSON = b"application/json"


class JsonBodyMiddleware:
    """Sets ``Content-Type: application/json`` on ``POST /api/...`` requests that say otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/api/"):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            original = dict(scope["headers"]).get(b"content-type", b"")
            if b"json" not in original:
                scope = {**scope, "headers": [*headers, (b"content-type", JSON)]}
        await self.app(scope, receive, send)
