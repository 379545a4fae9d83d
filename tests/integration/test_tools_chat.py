"""The tool route end to end: the real NLU, Redis and orchestrator processes, and an LLM that is *down*.

Every answer here comes from a deterministic tool, so the orchestrator's LLM points at a closed port: if a
request needed the LLM it would be a 503. The weather tool points at a closed port too (its failure path).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from icalendar import Calendar

from alice.signing import Claims, sign_request
from procs import Proc, free_port, start_redis, start_service, wait_http

SECRET = "tools-it-" + secrets.token_urlsafe(24)
USER = Claims(tenant="acme", role="user", key_id="k-user", tools=("*",))
ONLY_CLOCK = Claims(tenant="acme", role="user", key_id="k-clock", tools=("time.now",))
OTHER = Claims(tenant="globex", role="user", key_id="k-other", tools=("*",))


@dataclass
class Stack:
    log_dir: Path
    redis: Proc
    nlu: Proc
    orchestrator: Proc


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("tools-logs")
    started: list[Proc] = []
    stack: Stack | None = None
    try:
        redis_proc = start_redis(log_dir)
        started.append(redis_proc)
        nlu = start_service("nlu", "nlu.app:create_app", log_dir, {"ALICE_LOG_FORMAT": "json"}, 240)
        started.append(nlu)
        wait_http(nlu, "/ready", 300)
        closed = f"http://127.0.0.1:{free_port()}"
        env = {
            "ALICE_INTERNAL_SECRET": SECRET,
            "ALICE_LOG_FORMAT": "json",
            "ORCHESTRATOR_NLU_URL": nlu.url,
            "OLLAMA_HOST": closed,
            "REDIS_URL": redis_proc.url,
            "ORCHESTRATOR_WEATHER_GEOCODING_URL": closed,
            "ORCHESTRATOR_WEATHER_FORECAST_URL": closed,
        }
        orch = start_service("orchestrator-tools", "orchestrator.app:create_app", log_dir, env)
        started.append(orch)
        stack = Stack(log_dir, redis_proc, nlu, orch)
        yield stack
    finally:
        if stack is not None:  # a test may have restarted it: stop the one running now
            started.append(stack.orchestrator)
        for proc in reversed(started):
            proc.stop()


def _signed(proc: Proc, method: str, path: str, payload: Any, claims: Claims = USER) -> httpx.Response:
    body = json.dumps(payload).encode() if payload is not None else b""
    headers = {"Content-Type": "application/json", **sign_request(SECRET.encode(), method, path, body, claims)}
    return httpx.request(method, proc.url + path, content=body, headers=headers, timeout=60)


def _tool_answer(stack: Stack, message: str, claims: Claims = USER) -> dict[str, Any]:
    response = _signed(stack.orchestrator, "POST", "/api/chat", {"message": message}, claims)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["route"] == "tool" and body["model"] is None, body
    assert response.headers["x-route"] == "tool"
    return body


def test_time_in_another_city(stack: Stack) -> None:
    body = _tool_answer(stack, "Vad är klockan i Tokyo?")
    assert body["intent"] == "time.now" and body["tools"][0]["name"] == "time.now"
    assert body["tools"][0]["result"]["zone"] == "Asia/Tokyo" and "Tokyo" in body["response"]


def test_a_percentage_is_computed_exactly(stack: Stack) -> None:
    body = _tool_answer(stack, "Vad är 15 procent av 200?")
    assert body["tools"][0]["name"] == "math.calculate" and body["tools"][0]["result"]["value"] == 30
    assert "30" in body["response"]


def test_a_calendar_draft_can_be_downloaded_by_its_tenant_only(stack: Stack) -> None:
    body = _tool_answer(stack, "Boka ett möte med Anna imorgon klockan 14")
    call = body["tools"][0]
    assert call["name"] == "calendar.create_draft" and call["result"]["ok"] is True
    [attachment] = call["result"]["attachments"]
    assert attachment["url"] in body["response"] and attachment["media_type"].startswith("text/calendar")
    download = _signed(stack.orchestrator, "GET", attachment["url"], None)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/calendar")
    assert "attachment" in download.headers["content-disposition"]
    event = next(c for c in Calendar.from_ical(download.content).walk() if c.name == "VEVENT")
    assert "Anna" in str(event["SUMMARY"]) and event["DTSTART"].dt.hour == 14
    assert _signed(stack.orchestrator, "GET", attachment["url"], None, OTHER).status_code == 404


def test_a_tool_the_key_was_not_granted_is_403(stack: Stack) -> None:
    response = _signed(stack.orchestrator, "POST", "/api/chat", {"message": "Vad är 12 gånger 3?"}, ONLY_CLOCK)
    assert response.status_code == 403 and response.json()["code"] == "tool_denied", response.text
    assert _tool_answer(stack, "Vad är klockan?", ONLY_CLOCK)["tools"][0]["name"] == "time.now"


def test_an_unreachable_weather_service_is_a_clear_swedish_answer(stack: Stack) -> None:
    body = _tool_answer(stack, "Hur blir vädret i Göteborg imorgon?")
    call = body["tools"][0]
    assert call["name"] == "weather.lookup" and call["result"]["ok"] is False
    assert "vädertjänsten" in body["response"] and body["route_reason"].endswith("weather_unreachable")


def test_timers_live_in_redis_and_survive_an_orchestrator_restart(stack: Stack) -> None:
    body = _tool_answer(stack, "Ställ en timer på fem minuter för pastan")
    assert body["tools"][0]["name"] == "timer.set" and body["tools"][0]["result"]["ok"] is True
    env = dict(stack.orchestrator.env or {})
    stack.orchestrator.stop()
    stack.orchestrator = start_service("orchestrator-tools-2", "orchestrator.app:create_app", stack.log_dir, env)
    status = _tool_answer(stack, "Hur lång tid är det kvar på timern?")
    assert status["tools"][0]["name"] == "timer.status" and "pastan" in status["response"]
    assert "kvar" in status["response"]


def test_a_remembered_fact_is_found_again(stack: Stack) -> None:
    stored = _tool_answer(stack, "Kom ihåg att min portkod är 4512")
    assert stored["tools"][0]["name"] == "memory.store" and stored["tools"][0]["result"]["ok"] is True
    found = _tool_answer(stack, "Vad är min portkod?")
    assert found["tools"][0]["name"] == "memory.query" and "4512" in found["response"]


def test_routing_is_visible_to_admins(stack: Stack) -> None:
    admin = Claims(tenant="acme", role="admin", key_id="k-admin", tools=("*",))
    assert _signed(stack.orchestrator, "GET", "/api/monitoring/routing", None).status_code == 403
    _tool_answer(stack, "Vad är 7 gånger 6?")
    view = _signed(stack.orchestrator, "GET", "/api/monitoring/routing", None, admin)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["window"]["shared"] is True and body["window"]["shares"]["tool"] > 0
    assert sum(body["replica_decisions"]["tool"].values()) >= 1
    assert {"time.now", "math.calculate", "timer.set", "weather.lookup"} <= set(body["tools"])


def _planned(stack: Stack, message: str, claims: Claims = USER) -> dict[str, Any]:
    response = _signed(stack.orchestrator, "POST", "/api/chat", {"message": message}, claims)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["route"] == "planner", body
    return body


def test_the_planner_runs_each_task_s_tool_without_the_llm(stack: Stack) -> None:
    body = _planned(stack, "Vad är klockan i Tokyo och sen vad är 15 procent av 340?")
    assert [t["name"] for t in body["tools"]] == ["time.now", "math.calculate"]
    assert body["model"] is None and body["route_reason"].endswith("planner_tools")  # the LLM is down: never asked
    assert "Tokyo" in body["response"] and "51" in body["response"]


def test_the_planner_asks_for_what_a_tool_task_lacks(stack: Stack) -> None:
    body = _planned(stack, "sätt en timer")
    assert body["tools"] == [] and body["model"] is None and "Hur lång" in body["response"]


def test_a_task_the_planner_must_ask_the_llm_about_is_a_clean_503_while_the_llm_is_down(stack: Stack) -> None:
    response = _signed(stack.orchestrator, "POST", "/api/chat", {"message": "ring tandläkaren och avboka min tid"})
    assert response.status_code == 503 and response.json()["code"] == "dependency_down", response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_planner_refuses_a_tool_the_key_was_not_granted_before_running_any(stack: Stack) -> None:
    message = {"message": "sätt en timer på 7 minuter för teet och sen vad är 2 plus 2"}
    response = _signed(stack.orchestrator, "POST", "/api/chat", message, Claims("acme", "user", "k-t", ("timer.set",)))
    assert response.status_code == 403 and response.json()["code"] == "tool_denied", response.text
    status = _signed(stack.orchestrator, "POST", "/api/chat", {"message": "hur mycket tid är kvar på timrarna?"})
    assert "teet" not in status.json()["response"]  # refused as a whole: no timer was set
