"""Tiered conversation memory through Caddy, the guardian and the orchestrator of a real mesh (``alice up``, the
small test model): a fact stored in one session is recalled in another session of the same user and never for
another user; the working memory carries the session's turns; "glöm det" and ``DELETE /api/memory`` delete.

The LLM's words are not asserted (the test model is tiny): the response's ``memory`` field says what context the
deep route was given, and Redis itself is searched for what must be gone.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest
import redis

from guardian.keys import KeyStore

pytestmark = [pytest.mark.e2e, pytest.mark.llm]

FACT = "min dotter heter Elsamarie"
MARK = b"Elsamarie"


def _new_key(mesh: Any) -> str:
    """A new key of the dev key's tenant: a user of the same household with nothing stored yet."""
    store = KeyStore(mesh.home / "keys.json")
    tenant = store.list()[0].tenant
    secret, _record = store.create(tenant)
    return secret


def _chat(mesh: Any, key: str, message: str, session: str | None = None, route: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if session:
        body["session_id"] = session
    if route:
        body["force_route"] = route
    r = httpx.post(mesh.url + "/api/chat", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=180)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def _memory(mesh: Any, key: str, method: str = "GET", path: str = "/api/memory") -> dict[str, Any]:
    r = httpx.request(method, mesh.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _redis_holds(mesh: Any, needle: bytes) -> list[str]:
    """Every Redis key whose value (of any type) contains ``needle``."""
    client = redis.Redis(port=mesh.ports["redis"])
    found = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"hash":
            values = [*client.hgetall(key).values(), *client.hkeys(key)]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(client.smembers(key))
        elif kind == b"zset":
            values = client.zrange(key, 0, -1)
        elif kind == b"stream":
            values = [v for _id, fields in client.xrange(key) for v in fields.values()]
        else:
            values = []
        if any(needle in bytes(v) for v in values):
            found.append(key.decode(errors="replace"))
    return found


def test_a_fact_follows_its_user_across_sessions_and_forget_deletes_every_trace(mesh):
    me, other = _new_key(mesh), _new_key(mesh)
    first, second = f"s1-{uuid.uuid4().hex[:8]}", f"s2-{uuid.uuid4().hex[:8]}"

    stored = _chat(mesh, me, f"Kom ihåg att {FACT}", first)
    assert stored["intent"] == "memory.store" and stored["tools"][0]["result"]["ok"] is True, stored

    question = "Vad heter min dotter?"
    recalled = _chat(mesh, me, question, second, route="deep")
    assert recalled["memory"] is not None, recalled
    assert [f["text"] for f in recalled["memory"]["facts"]] == [FACT]
    assert recalled["memory"]["turns"] == 0  # a new session: no working memory yet

    stranger = _chat(mesh, other, question, second, route="deep")  # same session id, another user
    assert stranger["memory"] is None, stranger

    follow_up = _chat(mesh, me, "Och hur gammal kan hon vara?", second, route="deep")
    assert follow_up["memory"]["turns"] == 1  # the previous exchange of this session

    streamed = httpx.post(
        mesh.url + "/api/chat",
        json={"message": "Tack för hjälpen!", "session_id": second, "stream": True, "force_route": "deep"},
        headers={"Authorization": f"Bearer {me}"},
        timeout=180,
    )
    assert streamed.status_code == 200 and "event: done" in streamed.text  # a streamed answer is kept too

    mine = _memory(mesh, me)
    assert {s["id"]: s["turns"] for s in mine["sessions"]} == {first: 1, second: 3}
    assert [m["text"] for m in mine["memories"]] == [FACT]
    theirs = _memory(mesh, other)
    assert theirs["memories"] == [] and [s["id"] for s in theirs["sessions"]] == [second]

    forgot = _chat(mesh, me, "glöm det", second)
    assert forgot["intent"] == "memory.forget" and forgot["tools"][0]["result"]["turns"] == 1
    assert {s["id"]: s["turns"] for s in _memory(mesh, me)["sessions"]}[second] == 2

    told = _chat(mesh, me, "Vad betyder namnet Elsamarie?", second, route="deep")  # a question telemetry keeps
    held = _redis_holds(mesh, MARK)
    assert any(k.startswith("alice:telemetry:") for k in held), (told["intent"], held)
    assert any(k.startswith("alice:memory:") for k in held), held
    removed = _memory(mesh, me, "DELETE")["removed"]
    assert removed["sessions"] == 2 and removed["memories"] == 1 and removed["telemetry"] >= 5
    assert _redis_holds(mesh, MARK) == []
    after = _memory(mesh, me)
    assert after["sessions"] == [] and after["memories"] == []
    assert [s["id"] for s in _memory(mesh, other)["sessions"]] == [second]  # the other user keeps theirs


def test_glom_att_forgets_the_named_memory_only(mesh):
    me = _new_key(mesh)
    _chat(mesh, me, "Kom ihåg att portkoden är 4512")
    _chat(mesh, me, "Kom ihåg att cykeln står i källaren")
    forgot = _chat(mesh, me, "Glöm att portkoden är 4512")
    assert forgot["tools"][0]["result"]["memories"] == 1 and "portkoden" in forgot["response"]
    assert [m["text"] for m in _memory(mesh, me)["memories"]] == ["cykeln står i källaren"]
    nothing = _chat(mesh, me, "Glöm att jag har en båt")
    assert nothing["tools"][0]["result"]["memories"] == 0 and nothing["response"] == "Jag hittade inget sparat om det."
    _memory(mesh, me, "DELETE")


def test_memory_routes_refuse_odd_session_ids_and_unknown_callers(mesh):
    bad = httpx.get(mesh.url + "/api/memory/sessions/a%2Fb", headers={"Authorization": f"Bearer {mesh.key}"})
    assert bad.status_code in (403, 404) and bad.headers["content-type"] == "application/problem+json"
    anonymous = httpx.delete(mesh.url + "/api/memory")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"


def test_alice_chat_keeps_a_conversation_with_session(mesh):
    me = _new_key(mesh)
    for message in ("Hej Alice!", "Vad är klockan?"):
        done = subprocess.run(  # noqa: S603 - the CLI under test
            [sys.executable, "-m", "alice.cli", "chat", message, "--url", mesh.url, "--key", me, "--session", "cli-1",
             "--no-stream"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and done.stdout.strip(), done.stderr
    assert [(s["id"], s["turns"]) for s in _memory(mesh, me)["sessions"]] == [("cli-1", 2)]
