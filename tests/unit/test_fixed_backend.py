"""The benches' fixed-latency LLM stand-in: schema-shaped answers, and the Ollama wire format on a real socket."""

from __future__ import annotations

import json

import httpx

from alice.cli.fixedbackend import FixedLatencyServer, answer_text, shaped
from orchestrator.micro import MICRO_SCHEMA, parse_answer
from orchestrator.planner import parse_step, step_schema


def test_a_micro_schema_gets_an_answer_the_micro_route_accepts() -> None:
    raw = shaped("Hej!", MICRO_SCHEMA)
    assert parse_answer(raw) == "Hej!"


def test_a_planner_step_schema_gets_a_plain_reply() -> None:
    step = parse_step(shaped("Svar.", step_schema(["time.now"])), ["time.now"])
    assert step is not None and step.namn == "inget" and step.svar == "Svar."


def test_plain_text_without_a_schema() -> None:
    assert shaped("x", None) == "x" and json.loads(shaped("x", "json")) == {"svar": "x"}
    assert answer_text(
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "vad?"}]}
    ).endswith("vad?")


def test_it_answers_after_its_delay_and_counts_generations() -> None:
    server = FixedLatencyServer(0, delay_s=0.05)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/api/tags").json()["models"][0]["name"] == "fixed"
            body = {"model": "fixed", "messages": [{"role": "user", "content": "hej"}], "stream": False}
            reply = client.post("/api/chat", json=body)
            assert reply.json()["done"] is True and "hej" in reply.json()["message"]["content"]
            assert reply.elapsed.total_seconds() >= 0.05
            streamed = client.post("/api/chat", json={**body, "stream": True})
            lines = [json.loads(line) for line in streamed.text.splitlines()]
            assert [line["done"] for line in lines] == [False, True]
            assert client.get("/stats").json() == {"generations": 2}
    finally:
        server.shutdown()
        server.server_close()
