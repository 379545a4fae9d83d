"""``alice eval scenarios`` without a mesh: reading rows, the pure scoring, and the HTTP loop against a fake
transport (httpx.MockTransport standing in for the mesh)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from alice.cli.scenarios import (
    Reply,
    Scenario,
    eval_scenarios,
    loose_match,
    percentile,
    read_scenarios,
    run_scenarios,
    score,
)
from alice.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def answer(
    route: str = "tool",
    intent: str | None = "",
    tools: list[dict[str, Any]] | None = None,
    response: str = "Klockan är 14:05.",
    cache_hit: bool = False,
    route_reason: str = "hint_tool",
    model: str | None = "smollm2:135m",
) -> dict[str, Any]:
    if intent == "":  # the intent of the first tool, as on the tool route
        intent = tools[0]["name"] if tools else "time.now"
    return {
        "response": response,
        "route": route,
        "route_reason": route_reason,
        "intent": intent,
        "confidence": 0.9,
        "tools": tools or [],
        "cache": {"hit": cache_hit, "tier": 1 if cache_hit else None, "kind": "exact" if cache_hit else None},
        "model": None if route == "tool" else model,
        "latency_ms": 3.0,
        "request_id": "r",
    }


def call(name: str, ok: bool = True, result: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "result": {"ok": ok, **(result or {})}}


def ok(body: dict[str, Any], ms: float = 10.0) -> Reply:
    return Reply(200, body, ms)


def tool_row(rid: str, tool: str, args: dict[str, Any] | None = None) -> Scenario:
    return Scenario(rid, "fråga", tool, "tool", (tool,), args or {})


def write(tmp_path: Path, rows: list[Any], name: str = "rows.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    return path


# -- scoring ----------------------------------------------------------------------------------------------------
def test_tool_precision_and_recall_count_wrong_missing_and_extra_calls() -> None:
    rows = [
        tool_row("right", "time.now", {"place": "Tokyo"}),
        tool_row("wrong-tool", "time.now"),
        tool_row("missing", "weather.lookup"),
        tool_row("wrong-args", "time.now", {"place": "Tokyo"}),
        Scenario("extra", "hej", "greeting.hello", "micro"),
    ]
    replies = [
        ok(answer(tools=[call("time.now", place="Tokyo")])),
        ok(answer(tools=[call("date.today")])),
        ok(answer(route="deep", intent="weather.lookup", route_reason="hint_tool:tool_no_args")),
        ok(answer(tools=[call("time.now", place="Stockholm")])),
        ok(answer(intent="time.now", tools=[call("time.now")])),
    ]
    result = score(rows, replies)
    # made: 4 calls, 1 right; expected: 4 calls, 1 made right
    assert result["tool_precision"] == 0.25
    assert result["tool_recall"] == 0.25
    # only "right" succeeds: success is the request's outcome (answered, expected tools ok, no tool nobody asked
    # for — the greeting that fetched the time did not do what was asked)
    assert result["success_rate"] == 0.2
    whats = {f["id"]: f["what"] for f in result["failures"]}
    assert set(whats) == {"wrong-tool", "missing", "wrong-args", "extra"}
    assert "unexpected tool date.today" in whats["wrong-tool"] and "missing tool time.now" in whats["wrong-tool"]
    assert "missing tool weather.lookup" in whats["missing"] and "route deep (expected tool)" in whats["missing"]
    assert "lack" in whats["wrong-args"] and "missing tool" not in whats["wrong-args"]
    assert "unexpected tool time.now" in whats["extra"] and "intent time.now" in whats["extra"]


def test_key_args_are_loose_and_may_be_read_from_the_result() -> None:
    rows = [
        tool_row("place", "time.now", {"place": "new york"}),
        tool_row("number", "timer.set", {"duration_s": 720, "label": "potatis"}),
        tool_row("value", "math.calculate", {"value": 391}),
        tool_row("accents", "weather.lookup", {"place": "Malmö"}),
        tool_row("items", "memory.store", {"items": ["bananer", "kaffefilter"]}),
    ]
    replies = [
        ok(answer(tools=[call("time.now", place="New York")])),
        ok(answer(tools=[call("timer.set", duration_s=720.0, label="potatisen", action="start")])),
        ok(answer(tools=[call("math.calculate", expression="17*23", result={"value": 391})])),
        ok(answer(tools=[call("weather.lookup", place="malmo")])),
        ok(answer(tools=[call("memory.store", items=["Bananer", "kaffefilter"], list_name="inköpslista")])),
    ]
    result = score(rows, replies)
    assert result["failures"] == []
    assert result["tool_precision"] == result["tool_recall"] == result["success_rate"] == 1.0


def test_loose_match() -> None:
    assert (
        loose_match("tvät", "tvättimer") and loose_match("GÖTEBORG", "Göteborg") and loose_match("goteborg", "Göteborg")
    )
    assert loose_match(12, "12.0") and loose_match(300, 300.0) and not loose_match(300, 301)
    assert loose_match(True, True) and not loose_match(True, False) and not loose_match(True, None)
    assert loose_match("Lena", ["Lena", "Ahmed"]) and loose_match(["Lena", "Ahmed"], ["Lena Ek", "Ahmed"])
    assert not loose_match(["Lena", "Omar"], ["Lena", "Ahmed"])
    assert not loose_match("Tokyo", None) and not loose_match(5, "fem")
    recalled = [{"id": "1", "text": "reservnyckeln ligger under blomkrukan", "list": None, "score": 0.93}]
    assert loose_match("Blomkrukan", recalled) and not loose_match("garaget", recalled)


def test_success_needs_an_ok_tool_and_a_non_empty_answer() -> None:
    rows = [
        tool_row("ok", "weather.lookup"),
        tool_row("tool-failed", "weather.lookup"),
        Scenario("empty", "hej"),
        tool_row("bad-place", "weather.lookup"),
    ]
    replies = [
        ok(answer(tools=[call("weather.lookup")])),
        ok(
            answer(
                tools=[call("weather.lookup", ok=False, result={"error": "weather_unreachable"})],
                response="Jag kan inte nå vädertjänsten just nu.",
            )
        ),
        ok(answer(route="micro", intent="greeting.hello", response="  ")),
        ok(answer(tools=[call("weather.lookup", ok=False, result={"error": "unknown_place"})])),
    ]
    result = score(rows, replies)
    assert result["success_rate"] == 0.25
    # only the unreachable service is the environment's fault: the online rate leaves that one row out
    assert result["offline_failures"] == 1 and result["success_rate_online"] == round(1 / 3, 4)
    # a call that failed was still the right call: precision and recall measure the choice, success the outcome
    assert result["tool_precision"] == result["tool_recall"] == 1.0
    whats = {f["id"]: f["what"] for f in result["failures"]}
    assert whats == {
        "tool-failed": "weather.lookup failed: weather_unreachable",
        "empty": "empty answer",
        "bad-place": "weather.lookup failed: unknown_place",
    }


def test_http_errors_are_failures_with_their_status() -> None:
    rows = [tool_row("503", "time.now"), Scenario("timeout", "förklara allt", "info.query", "deep")]
    replies = [Reply(503, {"code": "dependency_down", "status": 503}, 12.0), Reply(None, None, 0.0, "ReadTimeout")]
    result = score(rows, replies)
    assert result["failures"] == [
        {"id": "503", "status": 503, "what": "HTTP 503 dependency_down; missing tool time.now"},
        {"id": "timeout", "status": None, "what": "no answer (ReadTimeout)"},
    ]
    assert result["intent_accuracy"] == 0.0 and result["success_rate"] == 0.0
    assert result["tool_recall"] == 0.0 and result["tool_precision"] is None  # no call made at all
    assert result["http_errors"] == 2
    assert result["p50_ms"] == 12.0  # the 503 was answered; the timeout has no latency to count
    assert result["llm_share"] is None


def test_intent_and_route_accuracy_credit_an_unavailable_wanted_route() -> None:
    rows = [
        Scenario("oos", "köp en pizza", "out_of_scope", "planner"),
        Scenario("greet", "hej", "greeting.hello", "micro"),
        Scenario("unlabelled", "hmm"),
    ]
    replies = [
        ok(answer(route="deep", intent="out_of_scope", route_reason="hint_planner:planner_unavailable")),
        ok(answer(route="deep", intent="info.query", route_reason="hint_deep")),
        ok(answer(route="deep", intent="info.query", route_reason="hint_deep")),
    ]
    result = score(rows, replies)
    assert result["intent_accuracy"] == 0.5 and result["route_accuracy"] == 0.5
    assert result["per_intent_accuracy"] == {"greeting.hello": 0.0, "out_of_scope": 1.0}
    assert result["success_rate"] == 1.0  # answered, no tool expected
    assert [f["id"] for f in result["failures"]] == ["greet"]


def test_latency_percentiles_per_route_and_llm_share() -> None:
    rows = [Scenario(str(i), "x") for i in range(7)]
    replies = [
        ok(answer(route="tool"), 10.0),
        ok(answer(route="tool"), 30.0),
        ok(answer(route="micro", intent="smalltalk"), 200.0),
        ok(answer(route="deep", intent="info.query"), 1000.0),
        ok(answer(route="deep", intent="info.query", cache_hit=True), 5.0),
        Reply(500, {"code": "internal_error"}, 50.0),
        ok(answer(route="planner", intent="timer.set", model=None), 60.0),  # tools only, no LLM
    ]
    result = score(rows, replies)
    assert result["route_p95_ms"] == {"tool": 29.0, "micro": 200.0, "planner": 60.0, "deep": 950.25}
    assert result["route_n"] == {"tool": 2, "micro": 1, "planner": 1, "deep": 2}
    assert result["p50_ms"] == 50.0  # over every HTTP answer, the 500 included
    assert result["llm_share"] == round(2 / 6, 4)  # micro + uncached deep, of six 200s
    assert result["cache_hits"] == 1
    assert percentile([], 95) is None and percentile([7.0], 95) == 7.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == 9.55


def test_a_cached_tool_answer_counts_as_its_intents_tool_without_args() -> None:
    rows = [tool_row("cached", "math.calculate", {"value": 391})]
    replies = [ok(answer(intent="math.calculate", cache_hit=True))]
    result = score(rows, replies)
    assert result["tool_precision"] == result["tool_recall"] == result["success_rate"] == 1.0
    assert result["llm_share"] == 0.0 and result["cache_hits"] == 1


def test_score_needs_one_reply_per_row() -> None:
    with pytest.raises(ValueError, match="2 rows but 1 replies"):
        score([Scenario("a", "x"), Scenario("b", "y")], [ok(answer())])


# -- reading ----------------------------------------------------------------------------------------------------
def test_read_scenarios_keeps_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [
            {"id": "sv-1", "prompt": "kom ihåg att nyckeln ligger i lådan", "expected_intent": "memory.store"},
            "",
            {"id": "sv-2", "prompt": "var ligger nyckeln?", "expected_tools": ["memory.query"], "notes": "after sv-1"},
        ],
    )
    rows = read_scenarios(path)
    assert [r.id for r in rows] == ["sv-1", "sv-2"]
    assert rows[1].expected_tools == ("memory.query",) and rows[1].expected_intent is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "rows.jsonl:2: not JSON"),
        ("[1, 2]", "rows.jsonl:2: expected a JSON object"),
        ('{"id": "b"}', "rows.jsonl:2: no 'prompt'"),
        ('{"prompt": "x"}', "rows.jsonl:2: no 'id'"),
        ('{"id": "b", "prompt": "x", "expected_route": "fast"}', "rows.jsonl:2: 'expected_route' must be one of"),
        ('{"id": "b", "prompt": "x", "expected_tools": "time.now"}', "rows.jsonl:2: 'expected_tools' must be a list"),
        ('{"id": "b", "prompt": "x", "expected_args": [1]}', "rows.jsonl:2: 'expected_args' must be an object"),
        ('{"id": "a", "prompt": "x"}', "rows.jsonl:2: id 'a' appears twice"),
        ('{"id": "b", "prompt": "x", "upstream_intent": "calendar.create"}', "rows.jsonl:2: an upstream row"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, [{"id": "a", "prompt": "hej"}, line])
    with pytest.raises(ConfigError, match=message):
        read_scenarios(path)


def test_missing_and_empty_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_scenarios(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="no rows"):
        read_scenarios(write(tmp_path, [""]))


def test_upstream_rows_get_intent_tools_and_route_from_the_label_map(tmp_path: Path) -> None:
    data = write(
        tmp_path,
        [
            {
                "id": "u-1",
                "prompt": "Vad är klockan nu?",
                "expected_route": "micro",
                "upstream_intent": "smalltalk.time",
            },
            {"id": "u-2", "prompt": "Hej!", "expected_route": "micro", "upstream_intent": "greeting.hello"},
            {"id": "u-3", "prompt": "Kolla min mejl", "expected_route": "planner", "upstream_tools": ["email.check"]},
            {"id": "u-4", "prompt": "Något annat", "expected_route": "micro", "upstream_intent": "x"},
            {"id": "u-5", "prompt": "Boka ett möte", "expected_route": "planner", "upstream_intent": "TIME.BOOK"},
        ],
    )
    labels = tmp_path / "map.json"
    labels.write_text(
        json.dumps(
            [
                {"id": "u-1", "intent": "time.now", "note": "asks the time"},
                {"id": "u-2", "intent": "greeting.hello"},
                {"id": "u-3", "intent": "out_of_scope"},
                {"id": "u-5", "intent": "calendar.create_draft", "tools": [], "route": "planner"},
            ]
        )
    )
    said: list[str] = []
    rows = read_scenarios(data, labels, said.append)
    assert rows == [
        Scenario("u-1", "Vad är klockan nu?", "time.now", "tool", ("time.now",)),
        Scenario("u-2", "Hej!", "greeting.hello", "micro", ()),
        Scenario("u-3", "Kolla min mejl", "out_of_scope", "planner", ()),
        Scenario("u-5", "Boka ett möte", "calendar.create_draft", "planner", ()),  # no day or time: it asks
    ]
    assert said == [f"scenarios: 1 rows of {data} have no label in {labels}; left out"]


def test_label_map_problems_are_config_errors(tmp_path: Path) -> None:
    data = write(tmp_path, [{"id": "u-1", "prompt": "Hej", "upstream_intent": "greeting.hello"}])
    labels = tmp_path / "map.json"
    labels.write_text(json.dumps([{"id": "u-1", "intent": "greeting.hello"}, {"id": "u-9", "intent": "smalltalk"}]))
    with pytest.raises(ConfigError, match="1 ids have no row .*u-9"):
        read_scenarios(data, labels)
    labels.write_text('{"u-1": "greeting.hello"}')
    with pytest.raises(ConfigError, match="expected a JSON array"):
        read_scenarios(data, labels)
    labels.write_text("[{")
    with pytest.raises(ConfigError, match="map.json:1: not JSON"):
        read_scenarios(data, labels)


def test_the_shipped_files_read() -> None:
    """The Swedish set and the upstream set with the shipped map: every row valid, every tool intent a tool row."""
    own = read_scenarios(REPO / "eval" / "scenarios_sv.jsonl")
    assert len(own) >= 70 and len({r.id for r in own}) == len(own)
    for row in own:
        assert row.expected_route, row.id
        if row.expected_route == "planner":  # several tasks: several tools, and no one intent for the message
            continue
        assert row.expected_intent, row.id
        assert (row.expected_route == "tool") == bool(row.expected_tools), row.id
        assert not row.expected_tools or row.expected_tools == (row.expected_intent,), row.id
    assert sum(len(r.expected_tools) > 1 for r in own) >= 2  # multi-step planner rows
    upstream = REPO.parent / "shared" / "data" / "scenarios" / "upstream_dev.jsonl"
    if upstream.exists():
        rows = read_scenarios(upstream, REPO / "services" / "nlu" / "data" / "scenarios_map.json", lambda _: None)
        assert len(rows) == 49 and all(r.expected_intent for r in rows)


# -- the HTTP loop ------------------------------------------------------------------------------------------------
def fake_mesh(replies: dict[str, httpx.Response], seen: list[dict[str, Any]]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append({"path": request.url.path, "auth": request.headers.get("authorization"), **body})
        return replies[body["message"]]

    return httpx.MockTransport(handle)


def test_eval_scenarios_sends_rows_in_order_with_the_key(tmp_path: Path) -> None:
    data = write(
        tmp_path,
        [
            {"id": "1", "prompt": "kom ihåg att jag parkerade på plan 3", "expected_tools": ["memory.store"]},
            {
                "id": "2",
                "prompt": "var parkerade jag?",
                "expected_intent": "memory.query",
                "expected_tools": ["memory.query"],
            },
            {"id": "3", "prompt": "hej", "expected_intent": "greeting.hello", "expected_route": "micro"},
        ],
    )
    seen: list[dict[str, Any]] = []
    replies = {
        "kom ihåg att jag parkerade på plan 3": httpx.Response(
            200, json=answer(intent="memory.store", tools=[call("memory.store", fact="plan 3")])
        ),
        "var parkerade jag?": httpx.Response(200, json=answer(intent="memory.query", tools=[call("memory.query")])),
        "hej": httpx.Response(503, json={"code": "dependency_down"}, headers={"retry-after": "2"}),
    }
    said: list[str] = []
    result = eval_scenarios(data, "http://mesh.test/", "k-123", say=said.append, transport=fake_mesh(replies, seen))
    assert [s["message"] for s in seen] == [
        "kom ihåg att jag parkerade på plan 3",
        "var parkerade jag?",
        "hej",
    ]
    assert all(s["path"] == "/api/chat" and s["auth"] == "Bearer k-123" and s["stream"] is False for s in seen)
    assert result["n"] == 3 and result["url"] == "http://mesh.test"
    assert result["tool_recall"] == 1.0 and result["intent_accuracy"] == 0.5
    assert result["failures"] == [{"id": "3", "status": 503, "what": "HTTP 503 dependency_down"}]
    json.dumps(result)  # JSON-able
    assert any(line.startswith("scenarios: [2/3] 2 200 route=tool intent=memory.query") for line in said)
    assert said[-1].startswith("failure: 3 (503): HTTP 503")


def test_429_is_waited_out_and_retried() -> None:
    attempts: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            return httpx.Response(429, json={"code": "rate_limited"}, headers={"retry-after": "7"})
        return httpx.Response(200, json=answer())

    slept: list[float] = []
    with httpx.Client(base_url="http://mesh.test", transport=httpx.MockTransport(handle)) as client:
        replies = run_scenarios([Scenario("a", "klockan?")], client, lambda _: None, slept.append)
    assert replies[0].status == 200 and slept == [7.0, 7.0]


def test_unreachable_url_and_refused_key_are_config_errors(tmp_path: Path) -> None:
    data = write(tmp_path, [{"id": "1", "prompt": "hej"}])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ConfigError, match=r"cannot reach Alice at http://127.0.0.1:9 \(ConnectError\)"):
        eval_scenarios(data, "http://127.0.0.1:9", "k", say=lambda _: None, transport=httpx.MockTransport(refuse))
    unauthorised = httpx.MockTransport(lambda request: httpx.Response(401, json={"code": "unauthenticated"}))
    with pytest.raises(ConfigError, match="refused the API key"):
        eval_scenarios(data, "http://mesh.test", "bad", say=lambda _: None, transport=unauthorised)


def test_a_timeout_after_the_first_answer_is_a_failure_not_an_abort() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["message"] == "slow":
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json=answer())

    with httpx.Client(base_url="http://mesh.test", transport=httpx.MockTransport(handle)) as client:
        replies = run_scenarios([Scenario("a", "fast"), Scenario("b", "slow")], client, lambda _: None)
    assert [r.status for r in replies] == [200, None] and replies[1].error == "ReadTimeout"


def test_default_url_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alice.cli.scenarios import default_key, default_url

    monkeypatch.delenv("ALICE_URL", raising=False)
    monkeypatch.delenv("ALICE_API_KEY", raising=False)
    monkeypatch.setenv("ALICE_CADDY_PORT", "18123")
    monkeypatch.setenv("ALICE_HOME", str(tmp_path))
    assert default_url() == "http://127.0.0.1:18123"
    with pytest.raises(ConfigError, match="no API key"):
        default_key()
    (tmp_path / "dev_api_key").write_text("dev-key\n")
    assert default_key() == "dev-key"
    monkeypatch.setenv("ALICE_API_KEY", "env-key")
    assert default_key() == "env-key"
