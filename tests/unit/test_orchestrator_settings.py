"""Settings: prefixes, shared variable names, refusal of placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alice.models import DEFAULT_MODEL
from orchestrator.prompts import PROMPT_VERSION, SYSTEM_PROMPT, system_prompt
from orchestrator.settings import OrchestratorSettings

SECRET = "settings-test-secret-0123456789"


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OLLAMA_HOST", "REDIS_URL", "ORCHESTRATOR_MODEL", "ORCHESTRATOR_PORT"):
        monkeypatch.delenv(name, raising=False)
    s = OrchestratorSettings(internal_secret=SECRET)
    assert (s.port, s.nlu_url, s.nlu_timeout_s) == (8000, "http://127.0.0.1:9002", 2.0)
    assert (s.ollama_host, s.model, s.llm_timeout_s) == ("http://127.0.0.1:11434", DEFAULT_MODEL, 120.0)
    assert (s.redis_url, s.max_message_chars) == (None, 10_000)  # room for the guardian's redaction tokens


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALICE_INTERNAL_SECRET", SECRET)
    monkeypatch.setenv("OLLAMA_HOST", "http://10.0.0.2:11434")
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.3:6379/0")
    monkeypatch.setenv("ORCHESTRATOR_MODEL", "smollm2:135m")
    monkeypatch.setenv("ORCHESTRATOR_PORT", "18001")
    monkeypatch.setenv("ORCHESTRATOR_NUM_PREDICT_DEEP", "64")
    s = OrchestratorSettings()
    assert s.internal_secret.get_secret_value() == SECRET
    assert (s.ollama_host, s.redis_url, s.model, s.port, s.num_predict_deep) == (
        "http://10.0.0.2:11434",
        "redis://10.0.0.3:6379/0",
        "smollm2:135m",
        18001,
        64,
    )


def test_prefixed_name_wins_for_the_llm_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://shared:11434")
    monkeypatch.setenv("ORCHESTRATOR_OLLAMA_HOST", "http://mine:11434")
    assert OrchestratorSettings(internal_secret=SECRET).ollama_host == "http://mine:11434"


@pytest.mark.parametrize("secret", ["change-me", "short"])
def test_placeholder_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="ALICE_INTERNAL_SECRET"):
        OrchestratorSettings(internal_secret=secret)


def test_prompts_are_swedish_and_versioned() -> None:
    assert PROMPT_VERSION
    assert "svenska" in SYSTEM_PROMPT
    assert system_prompt("micro") != system_prompt("deep")
    assert system_prompt("deep").startswith(SYSTEM_PROMPT) and "koncist" in system_prompt("deep")
