"""Each service's load as the orchestrator reads it, and the scaler's per-service settings."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from alice.httpclient import create_http_client
from alice.slo import LatencyWindows
from orchestrator.scaling.advisor import ScalingAdvisor, ScalingMeters
from orchestrator.scaling.load import LoadReader, ScalingTargets
from orchestrator.scaling.meter import CallMeter, CpuMeter, MeteredTransport
from orchestrator.scaling.policy import FibonacciScaler, ScalerPolicy
from orchestrator.settings import OrchestratorSettings

SECRET = "scaler-unit-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def _settings(**kw: object) -> OrchestratorSettings:
    return OrchestratorSettings(internal_secret=SECRET, **kw)  # type: ignore[arg-type]


def test_settings_parse_service_maps_and_refuse_bad_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_SCALER_REPLICAS", "orchestrator=2, nlu=3")
    monkeypatch.setenv("ORCHESTRATOR_SCALER_CAPACITY_RPS", "orchestrator=400")
    settings = OrchestratorSettings(internal_secret=SECRET)  # type: ignore[call-arg]
    assert settings.scaler_replicas == {"orchestrator": 2, "nlu": 3}
    assert settings.scaler_capacity_rps == {"orchestrator": 400.0}
    assert settings.scaler_slots == {"nlu": 1.0, "modelserver": 1.0}
    for bad in ("nlu=0", "nlu", "redis=2", "nlu=two"):
        with pytest.raises(ValidationError, match="scaler_replicas"):
            _settings(scaler_replicas=bad)


def test_targets_default_to_one_replica_and_one_per_llm_server() -> None:
    targets = ScalingTargets.from_settings(_settings(llm_backends="http://a:1,http://b:2,http://c:3"), 144.0)
    assert targets.replicas == {"orchestrator": 1, "nlu": 1, "modelserver": 3}
    assert targets.p95_targets_ms == {"orchestrator": 144.0, "nlu": 144.0}
    custom = ScalingTargets.from_settings(_settings(scaler_p95_targets_ms="modelserver=8000"), 144.0)
    assert custom.p95_targets_ms["modelserver"] == 8000.0


def _reader(clock: Clock, cpu_used: dict[str, float], **settings: object) -> tuple[LoadReader, dict[str, CallMeter]]:
    windows = LatencyWindows(clock=clock)
    cpu = CpuMeter(clock=clock, cpu_seconds=lambda: cpu_used["s"])
    calls = {"nlu": CallMeter(clock), "modelserver": CallMeter(clock)}
    targets = ScalingTargets.from_settings(_settings(**settings), 144.0)
    return LoadReader(windows, cpu, calls, targets), calls


def test_orchestrator_load_from_cpu_requests_and_non_llm_p95() -> None:
    clock, used = Clock(), {"s": 0.0}
    reader, _ = _reader(clock, used, scaler_capacity_rps="orchestrator=10", scaler_replicas="orchestrator=2")
    clock.now += 60
    used["s"] = 42.0  # 0.7 of a core over the minute
    for _ in range(30):
        reader.windows.record("tool", 20.0, True)
    for _ in range(3):
        reader.windows.record("deep", 9000.0, True)  # waits on the LLM: not the orchestrator's latency
    load = reader.orchestrator(60)
    assert load.replicas == 2 and load.requests == 33
    assert load.utilisations["cpu"] == pytest.approx(0.7)
    assert load.utilisations["rps"] == pytest.approx(33 / 60 / 10)
    assert load.p95_ms == 20.0 and load.p95_target_ms == 144.0
    assert load.rps == pytest.approx(2 * 33 / 60)  # both replicas, assuming an even spread


def test_downstream_busy_share_over_replicas_slots_and_orchestrator_spread() -> None:
    clock, used = Clock(), {"s": 0.0}
    reader, calls = _reader(clock, used, scaler_replicas="orchestrator=2,modelserver=4", scaler_slots="modelserver=1")
    clock.now += 60
    for _ in range(6):  # 6 generations of 5 s: 30 busy seconds in the minute, from this replica
        token = calls["modelserver"].start()
        clock.now += 5
        calls["modelserver"].finish(token, ok=True)
    clock.now += 30
    load = reader.downstream("modelserver", 60)
    # this replica kept 0.5 generations going on average; two orchestrators → 1.0 over 4 servers × 1 slot
    assert load.utilisations == {"busy": pytest.approx(0.25)}
    assert load.p95_ms == pytest.approx(5000) and load.p95_target_ms is None
    assert load.rps == pytest.approx(2 * 6 / 60)
    assert [item.service for item in reader.loads(60)] == ["orchestrator", "nlu", "modelserver"]


def test_the_advisor_answers_for_every_service() -> None:
    clock, used = Clock(), {"s": 0.0}
    reader, calls = _reader(clock, used)
    clock.now += 60
    for _ in range(30):  # the NLU always busy: 30 parses of 2 s in the minute
        token = calls["nlu"].start()
        clock.now += 2
        calls["nlu"].finish(token, ok=True)
    view = ScalingAdvisor(reader, FibonacciScaler(ScalerPolicy(), clock=clock)).recommendations()
    by_name = {s["service"]: s for s in view["services"]}
    assert by_name["nlu"]["action"] == "emergency" and by_name["nlu"]["recommended"] > 1
    assert by_name["modelserver"]["action"] == "hold"  # idle but already at the minimum
    assert view["window_s"] == 60 and view["policy"]["thresholds"]["up"] == pytest.approx(0.618, abs=1e-3)


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_the_client_factory_wraps_either_transport(transport: str) -> None:
    meters = ScalingMeters()
    client = create_http_client("http://127.0.0.1:9", transport=transport, wrap_transport=meters.nlu_transport)  # type: ignore[arg-type]
    assert isinstance(client._transport, MeteredTransport)
    with pytest.raises(httpx.HTTPError):  # nothing listens on port 9: counted as a failed parse
        await client.post("/api/nlu/parse", json={"text": "hej"})
    await client.aclose()
    assert meters.calls["nlu"].stats(60).failures == 1
