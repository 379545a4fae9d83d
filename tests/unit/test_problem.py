import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from alice.errors import (
    DependencyDownError,
    PayloadTooLargeError,
    UpstreamHTTPError,
    ValidationFailedError,
    error_from_problem,
)
from alice.problem import install_problem_handlers


class Body(BaseModel):
    message: str


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/echo")
    async def echo(body: Body) -> dict[str, str]:
        return {"message": body.message}

    @app.get("/down")
    async def down() -> None:
        raise DependencyDownError("Språkmodellen är inte tillgänglig", retry_after=2.5)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    return app


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app(), raise_app_exceptions=False), base_url="http://t"
    )


async def test_validation_error_is_problem_json():
    r = await client().post("/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail", "instance", "code", "request_id"} <= body.keys()
    assert body["code"] == "validation_failed"


async def test_service_error_has_retry_after():
    r = await client().get("/down")
    assert r.status_code == 503 and r.headers["retry-after"] == "3"
    assert r.json()["detail"] == "Språkmodellen är inte tillgänglig"


async def test_unexpected_error_hides_internals():
    r = await client().get("/boom")
    assert r.status_code == 500
    assert "passwd" not in r.text and "Traceback" not in r.text


async def test_404_is_problem_json():
    r = await client().get("/nope")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_error_from_problem_roundtrip():
    assert isinstance(error_from_problem(413, {"code": "payload_too_large"}), PayloadTooLargeError)
    assert isinstance(error_from_problem(422, {"code": "validation_failed"}), ValidationFailedError)
    err = error_from_problem(503, {"code": "dependency_down", "detail": "x", "retry_after": 2})
    assert isinstance(err, DependencyDownError) and err.retry_after == 2
    odd = error_from_problem(418, {"code": "teapot"})
    assert isinstance(odd, UpstreamHTTPError) and odd.upstream_status == 418
