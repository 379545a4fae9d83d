"""``alice eval scenarios``: Swedish prompts sent through the real API of a running mesh, and scored (DESIGN §7).

Rows (JSON Lines) are ``{"id", "prompt", "expected_intent"?, "expected_route"?, "expected_tools"?,
"expected_args"?, "notes"?}``. They are sent **in file order, one at a time, with one API key**: a
``memory.query`` row may ask about what an earlier ``memory.store`` row stored, a ``timer.cancel`` row may stop
a timer an earlier row started.

Upstream rows (``../shared/data/scenarios/upstream_dev.jsonl``: ``upstream_intent`` in upstream's own
vocabulary) need ``labels``, a map ``[{"id", "intent", "tools"?, "route"?, "note"?}]`` such as
``nlu/data/scenarios_map.json``: each mapped row gets ``expected_intent`` from the map, ``expected_tools =
[intent]`` when the intent is a tool intent (a tool's name is its intent's), and ``expected_route`` = the
intent's route hint (``nlu.intents``), unless the entry names its own ``tools`` and ``route``;
upstream's own route and tools are ignored. Rows the map does not name are left out; a map id without a row is
an error.

Scoring (:func:`score`, pure):

- ``intent_accuracy``: rows with ``expected_intent`` whose answer carried that intent (an HTTP error is wrong).
- ``route_accuracy``: rows with ``expected_route`` answered on it, or whose ``route_reason`` says that route was
  wanted but is not available in this build (``…:planner_unavailable``).
- ``tool_precision``: of the tool calls made, the share that match an expected call of the row (same name and,
  when the row gives ``expected_args``, every key argument matches; one made call matches one expected call).
  ``tool_recall``: of the expected calls, the share made that way. ``null`` when there is nothing to divide.
- ``expected_args`` are compared loosely: strings by case- and accent-insensitive containment (in any element
  of a list or value of an object), numbers by numeric equality, booleans exactly; a key missing from the
  call's ``args`` is looked up in its ``result`` (so ``{"value": 391}`` checks a calculation's answer and
  ``{"memories": "blomkrukan"}`` a recalled memory).
- ``success_rate``: HTTP 200 with a non-empty answer, every expected tool matched by a call whose ``result.ok`` is
  true, and no tool called that the row does not expect (a goodbye that fetched the weather is not a success).
- ``offline_failures``: rows that failed only because an external service (Open-Meteo) could not be reached
  (tool error ``*_unreachable``/``*_timeout``); ``success_rate_online`` leaves them out of the count. Both are
  reported: on a machine without internet the weather rows cannot succeed whatever Alice does.
- A cached answer carries no tool call: a cache hit on the tool route counts as a call of the cached intent's
  tool with ``ok`` true (only good tool answers are cached) whose arguments are not checked; ``cache_hits``
  says how many answers came from the cache.
- ``p50_ms``/``p95_ms``: client-side latency of every request that got an HTTP answer; ``route_p95_ms`` by the
  route that answered (HTTP 200); ``llm_share``: share of HTTP 200 answers an LLM wrote (``model`` set) that
  did not come from the cache; a planner answer that only ran tools names no model.
"""

from __future__ import annotations

import json
import math
import os
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import typer

from alice.errors import ConfigError
from alice.jsonl import numbered_objects

ROUTES = ("tool", "micro", "planner", "deep")
MAX_429_RETRIES = 3
MAX_RETRY_WAIT_S = 30.0

Say = Callable[[str], None]


def _stderr(msg: str) -> None:
    typer.echo(msg, err=True)


# -- rows -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """One prompt and what a good answer looks like."""

    id: str
    prompt: str
    expected_intent: str | None = None
    expected_route: str | None = None
    expected_tools: tuple[str, ...] = ()
    expected_args: Mapping[str, Any] = field(default_factory=dict)


def _scenario(row: Mapping[str, Any], where: str) -> Scenario:
    def fail(what: str) -> ConfigError:
        return ConfigError(f"{where}: {what}")

    rid, prompt = row.get("id"), row.get("prompt")
    if not isinstance(rid, str | int) or isinstance(rid, bool) or not str(rid).strip():
        raise fail("no 'id' (a non-empty string)")
    if not isinstance(prompt, str) or not prompt.strip():
        raise fail("no 'prompt' (a non-empty string)")
    intent, route = row.get("expected_intent"), row.get("expected_route")
    tools, args = row.get("expected_tools", []), row.get("expected_args", {})
    if intent is not None and (not isinstance(intent, str) or not intent):
        raise fail("'expected_intent' must be a non-empty string")
    if route is not None and route not in ROUTES:
        raise fail(f"'expected_route' must be one of {', '.join(ROUTES)}")
    if not isinstance(tools, list) or not all(isinstance(t, str) and t for t in tools):
        raise fail("'expected_tools' must be a list of tool names")
    if not isinstance(args, dict):
        raise fail("'expected_args' must be an object")
    return Scenario(str(rid), prompt, intent, route, tuple(tools), args)


def _numbered(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = numbered_objects(path, "a JSON object")
    if not out:
        raise ConfigError(f"{path}: no rows")
    return out


def read_label_map(path: Path) -> dict[str, dict[str, Any]]:
    """``[{"id", "intent", "note"?}]`` by id, or a :class:`ConfigError` naming the file."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("intent"), str) for e in entries
    ):
        raise ConfigError(f'{path}: expected a JSON array of {{"id", "intent"}} objects')
    return {e["id"]: e for e in entries}


def relabel(row: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    """An upstream row with Alice's labels from its map ``entry``: the intent, its tool (a tool intent's tool has
    its name) and its route, unless the entry names the ``tools`` and ``route`` itself (several tasks; a tool
    intent without its arguments, which the planner asks about)."""
    from nlu.intents import TOOL_INTENTS, route_hint

    intent = str(entry["intent"])
    kept = {k: v for k, v in row.items() if k in ("id", "prompt")}
    tools = entry.get("tools", [intent] if intent in TOOL_INTENTS else [])
    route = entry.get("route", route_hint(intent))
    return {**kept, "expected_intent": intent, "expected_route": route, "expected_tools": tools}


def read_scenarios(path: Path, labels: Path | None = None, say: Say = _stderr) -> list[Scenario]:
    """The rows of ``path`` in file order (relabelled by id from ``labels`` when given); a bad row is a
    :class:`ConfigError` naming ``file:line``."""
    numbered = _numbered(path)
    label_map = read_label_map(labels) if labels is not None else None
    out: list[Scenario] = []
    seen: set[str] = set()
    for number, row in numbered:
        where = f"{path}:{number}"
        if label_map is not None:
            entry = label_map.get(str(row.get("id")))
            if entry is None:
                continue
            row = relabel(row, entry)
        elif "upstream_intent" in row and "expected_intent" not in row:
            raise ConfigError(f"{where}: an upstream row (upstream_intent) needs --labels MAP to get Alice's intent")
        scenario = _scenario(row, where)
        if scenario.id in seen:
            raise ConfigError(f"{where}: id {scenario.id!r} appears twice")
        seen.add(scenario.id)
        out.append(scenario)
    if label_map is not None:
        missing = sorted(set(label_map) - seen)
        if missing:
            raise ConfigError(f"{labels}: {len(missing)} ids have no row in {path}: {', '.join(missing[:5])}")
        if len(out) < len(numbered):
            say(f"scenarios: {len(numbered) - len(out)} rows of {path} have no label in {labels}; left out")
    return out


# -- scoring --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """What one request got: the HTTP status (None: no answer, see ``error``), the JSON body, client latency."""

    status: int | None
    body: Mapping[str, Any] | None
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True)
class Call:
    """A tool call of an answer; ``args`` None for a cached answer (nothing to check)."""

    name: str
    args: Mapping[str, Any] | None
    result: Mapping[str, Any]
    ok: bool


def _fold(value: object) -> str:
    text = unicodedata.normalize("NFKD", str(value).casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def loose_match(expected: Any, actual: Any) -> bool:
    """Whether ``actual`` has ``expected``: containment for strings, equality for numbers and booleans; a
    list expects each of its items; an actual list or object matches when one of its items or values does
    (``{"memories": "blomkrukan"}`` finds a recalled memory's text)."""
    if isinstance(expected, list):
        return all(loose_match(e, actual) for e in expected)
    if isinstance(actual, list | tuple):
        return any(loose_match(expected, a) for a in actual)
    if isinstance(actual, Mapping):
        return any(loose_match(expected, a) for a in actual.values())
    if expected is None or isinstance(expected, bool) or actual is None:
        return expected is actual or expected == actual
    if _is_number(expected):
        try:
            return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return _fold(expected) in _fold(actual)


def args_match(expected: Mapping[str, Any], call: Call) -> bool:
    """Every expected key argument in the call's args (or else its result); unchecked for a cached call."""
    if call.args is None:
        return True
    for key, want in expected.items():
        actual = call.args[key] if key in call.args else call.result.get(key)
        if not loose_match(want, actual):
            return False
    return True


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def calls_of(body: Mapping[str, Any]) -> list[Call]:
    """The tool calls of an answer; a cache hit on the tool route stands for a call of its intent's tool."""
    calls = []
    for raw in body.get("tools") or []:
        if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
            result = _mapping(raw.get("result"))
            calls.append(Call(raw["name"], _mapping(raw.get("args")), result, result.get("ok") is True))
    hit = _mapping(body.get("cache")).get("hit")
    if not calls and hit and body.get("route") == "tool" and isinstance(body.get("intent"), str):
        calls.append(Call(body["intent"], None, {"ok": True}, True))
    return calls


@dataclass
class Verdict:
    """How one row went."""

    made: int = 0
    matched: int = 0
    expected: int = 0
    intent_ok: bool | None = None
    route_ok: bool | None = None
    success: bool = False
    offline: bool = False
    problems: list[str] = field(default_factory=list)


def _route_ok(want: str, body: Mapping[str, Any]) -> bool:
    return body.get("route") == want or f"{want}_unavailable" in str(body.get("route_reason") or "")


def _judge_tools(row: Scenario, calls: Sequence[Call], verdict: Verdict) -> list[Call]:
    """Match made calls one-to-one with expected ones; returns the matched calls."""
    left = list(row.expected_tools)
    matched: list[Call] = []
    wrong_args: set[str] = set()
    for call in calls:
        if call.name in left and args_match(row.expected_args, call):
            left.remove(call.name)
            matched.append(call)
        elif call.name in left:
            wrong_args.add(call.name)
            shown = json.dumps(dict(call.args or {}), ensure_ascii=False)
            verdict.problems.append(
                f"{call.name} args {shown} lack {json.dumps(row.expected_args, ensure_ascii=False)}"
            )
        else:
            verdict.problems.append(f"unexpected tool {call.name}")
    verdict.problems.extend(f"missing tool {name}" for name in left if name not in wrong_args)
    return matched


def judge(row: Scenario, reply: Reply) -> Verdict:
    """Score one row's reply (see the module docstring)."""
    verdict = Verdict(expected=len(row.expected_tools))
    body = reply.body if reply.status == 200 and reply.body is not None else None
    if body is None:
        verdict.problems.append(_http_problem(reply))
        verdict.intent_ok = False if row.expected_intent else None
        verdict.route_ok = False if row.expected_route else None
        verdict.problems.extend(f"missing tool {name}" for name in row.expected_tools)
        return verdict
    if row.expected_intent is not None:
        verdict.intent_ok = body.get("intent") == row.expected_intent
        if not verdict.intent_ok:
            verdict.problems.append(f"intent {body.get('intent')} (expected {row.expected_intent})")
    if row.expected_route is not None:
        verdict.route_ok = _route_ok(row.expected_route, body)
        if not verdict.route_ok:
            verdict.problems.append(f"route {body.get('route')} (expected {row.expected_route})")
    calls = calls_of(body)
    matched = _judge_tools(row, calls, verdict)
    verdict.made, verdict.matched = len(calls), len(matched)
    failed = [c.name for c in matched if not c.ok]
    verdict.problems.extend(f"{name} failed: {_error_of(calls, name)}" for name in failed)
    answered = bool(str(body.get("response") or "").strip())
    if not answered:
        verdict.problems.append("empty answer")
    complete = answered and len(matched) == len(row.expected_tools) and verdict.made == len(matched)
    verdict.success = complete and not failed
    verdict.offline = complete and bool(failed) and all(_offline(_error_of(calls, name)) for name in failed)
    return verdict


def _offline(error: str) -> bool:
    """A tool error that says an external service could not be reached (not Alice's mistake)."""
    return error.endswith(("_unreachable", "_timeout"))


def _http_problem(reply: Reply) -> str:
    if reply.status is None:
        return f"no answer ({reply.error})"
    code = _mapping(reply.body).get("code")
    return f"HTTP {reply.status}" + (f" {code}" if code else "")


def _error_of(calls: Sequence[Call], name: str) -> str:
    return next((str(c.result.get("error") or "ok=false") for c in calls if c.name == name and not c.ok), "?")


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation, as numpy's default), rounded to 0.01; None when empty."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 2)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _latencies(replies: Sequence[Reply]) -> dict[str, Any]:
    answered = [r for r in replies if r.status is not None]
    ok = [r.body for r in replies if r.status == 200 and r.body is not None]
    by_route: dict[str, list[float]] = {"tool": [], "micro": [], "planner": [], "deep": []}
    for reply in replies:
        if reply.status == 200 and reply.body is not None:
            by_route.setdefault(str(reply.body.get("route")), []).append(reply.latency_ms)
    llm = sum(1 for b in ok if b.get("model") and not _mapping(b.get("cache")).get("hit"))  # None: no LLM ran
    return {
        "p50_ms": percentile([r.latency_ms for r in answered], 50),
        "p95_ms": percentile([r.latency_ms for r in answered], 95),
        "route_p95_ms": {route: percentile(samples, 95) for route, samples in by_route.items()},
        "route_n": {route: len(samples) for route, samples in by_route.items()},
        "llm_share": _share(llm, len(ok)),
        "cache_hits": sum(1 for b in ok if _mapping(b.get("cache")).get("hit")),
        "http_errors": sum(1 for r in replies if r.status != 200),
    }


def score(rows: Sequence[Scenario], replies: Sequence[Reply]) -> dict[str, Any]:
    """The metrics of a run (rows and their replies in the same order); see the module docstring."""
    if len(rows) != len(replies):
        raise ValueError(f"{len(rows)} rows but {len(replies)} replies")
    verdicts = [judge(row, reply) for row, reply in zip(rows, replies, strict=True)]
    intents = [v.intent_ok for v in verdicts if v.intent_ok is not None]
    routes = [v.route_ok for v in verdicts if v.route_ok is not None]
    per_intent: dict[str, list[int]] = {}
    for row, v in zip(rows, verdicts, strict=True):
        if row.expected_intent is not None:
            per_intent.setdefault(row.expected_intent, []).append(int(bool(v.intent_ok)))
    failures = [
        {"id": row.id, "status": reply.status, "what": "; ".join(v.problems)}
        for row, reply, v in zip(rows, replies, verdicts, strict=True)
        if v.problems or not v.success
    ]
    return {
        "n": len(rows),
        "intent_accuracy": _share(sum(intents), len(intents)),
        "route_accuracy": _share(sum(routes), len(routes)),
        "tool_precision": _share(sum(v.matched for v in verdicts), sum(v.made for v in verdicts)),
        "tool_recall": _share(sum(v.matched for v in verdicts), sum(v.expected for v in verdicts)),
        "success_rate": _share(sum(v.success for v in verdicts), len(verdicts)),
        "offline_failures": sum(v.offline for v in verdicts),
        "success_rate_online": _share(sum(v.success for v in verdicts), sum(not v.offline for v in verdicts)),
        **_latencies(replies),
        "per_intent_accuracy": {k: _share(sum(v), len(v)) for k, v in sorted(per_intent.items())},
        "failures": failures,
    }


# -- the run --------------------------------------------------------------------------------------------------
def default_url() -> str:
    """``$ALICE_URL``, else the local Caddy of ``alice up`` (``$ALICE_CADDY_PORT``, 18000)."""
    return os.environ.get("ALICE_URL") or f"http://127.0.0.1:{os.environ.get('ALICE_CADDY_PORT') or 18000}"


def default_key() -> str:
    """``$ALICE_API_KEY``, else the dev key ``alice up`` keeps in ``$ALICE_HOME/dev_api_key``."""
    from alice.settings import default_data_dir

    if os.environ.get("ALICE_API_KEY"):
        return os.environ["ALICE_API_KEY"]
    saved = default_data_dir() / "dev_api_key"
    try:
        return saved.read_text(encoding="utf-8").strip()
    except OSError:
        raise ConfigError(f"no API key: pass --key / ALICE_API_KEY, or run `alice up` once to create {saved}") from None


def _retry_after(response: httpx.Response) -> float:
    """The 429's Retry-After in seconds (1 when absent or an HTTP date), at most :data:`MAX_RETRY_WAIT_S`."""
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), MAX_RETRY_WAIT_S)
    except ValueError:
        return 1.0


def _send(client: httpx.Client, prompt: str, sleep: Callable[[float], None]) -> Reply:
    """POST one prompt; waits out a 429's Retry-After a few times. Transport errors propagate."""
    for attempt in range(MAX_429_RETRIES + 1):
        started = time.perf_counter()
        response = client.post("/api/chat", json={"message": prompt, "stream": False})
        latency = round((time.perf_counter() - started) * 1000, 2)
        if response.status_code == 429 and attempt < MAX_429_RETRIES:
            sleep(_retry_after(response))
            continue
        break
    if response.status_code == 401:
        raise ConfigError(f"Alice refused the API key (401) at {client.base_url}: pass --key / ALICE_API_KEY")
    try:
        body = response.json()
    except ValueError:
        body = None
    return Reply(response.status_code, body if isinstance(body, dict) else None, latency)


def _progress(i: int, n: int, row: Scenario, reply: Reply) -> str:
    body = reply.body or {}
    tools = ",".join(t.get("name", "?") for t in body.get("tools") or [] if isinstance(t, dict)) or "-"
    return (
        f"scenarios: [{i}/{n}] {row.id} {reply.status or reply.error} route={body.get('route')} "
        f"intent={body.get('intent')} tools={tools} {reply.latency_ms:.0f} ms"
    )


def run_scenarios(
    rows: Sequence[Scenario],
    client: httpx.Client,
    say: Say = _stderr,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Reply]:
    """Send every row in order through ``client``. A server that cannot be connected to before it ever
    answered is a :class:`ConfigError`; any other transport failure (a read timeout, a mesh that went away
    mid-run) is a reply without status, counted as a failure."""
    replies: list[Reply] = []
    for i, row in enumerate(rows, start=1):
        try:
            reply = _send(client, row.prompt, sleep)
        except httpx.TransportError as exc:
            never_answered = all(r.status is None for r in replies)
            if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and never_answered:
                raise ConfigError(
                    f"cannot reach Alice at {client.base_url} ({type(exc).__name__}): is `alice up` running?"
                ) from None
            reply = Reply(None, None, 0.0, type(exc).__name__)
        replies.append(reply)
        say(_progress(i, len(rows), row, reply))
    return replies


def eval_scenarios(
    data: Path,
    url: str | None = None,
    key: str | None = None,
    labels: Path | None = None,
    timeout_s: float = 120,
    say: Say = _stderr,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """``alice eval scenarios``: send the rows of ``data`` in order to ``{url}/api/chat`` with bearer ``key``
    (defaults: :func:`default_url`, :func:`default_key`) and score the answers; failures go to stderr too."""
    rows = read_scenarios(data, labels, say)
    base = (url or default_url()).rstrip("/")
    headers = {"Authorization": f"Bearer {key or default_key()}"}
    say(f"scenarios: {len(rows)} prompts from {data} to {base}/api/chat, in file order")
    timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
    with httpx.Client(base_url=base, headers=headers, timeout=timeout, transport=transport) as client:
        replies = run_scenarios(rows, client, say)
    result = score(rows, replies)
    for failure in result["failures"]:
        say(f"failure: {failure['id']} ({failure['status']}): {failure['what']}")
    return {"data": str(data), "url": base, **result}
