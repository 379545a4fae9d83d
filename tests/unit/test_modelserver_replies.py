"""The objects the server answers with have Ollama's shape (field names, nanoseconds, done_reason)."""

from __future__ import annotations

from pathlib import Path

import ollama

from alice.models import resolve
from modelserver import replies
from modelserver.meter import GenerationStats
from modelserver.stream import Finished

END = Finished(
    "stop",
    GenerationStats(
        prompt_tokens=30, prompt_evaluated=5, generated=7, queued_s=0.01, prompt_s=0.02, generate_s=0.1, total_s=0.13
    ),
)


def test_streamed_chat_object_has_no_usage_fields() -> None:
    obj = replies.chat_delta("m", "Hej")
    assert obj.keys() == {"model", "created_at", "message", "done"}
    assert obj["message"] == {"role": "assistant", "content": "Hej"}
    assert obj["created_at"].endswith("Z")


def test_final_chat_object_carries_usage_in_nanoseconds_and_parses_in_the_official_client() -> None:
    obj = replies.chat_final("m", END, "Hej på dig")
    assert obj["done"] is True and obj["done_reason"] == "stop"
    assert obj["prompt_eval_count"] == 5  # evaluated, not the 25 reused from the KV cache
    assert obj["eval_count"] == 7
    assert obj["eval_duration"] == 100_000_000
    assert obj["total_duration"] == 130_000_000
    parsed = ollama.ChatResponse.model_validate(obj)
    assert parsed.message.content == "Hej på dig"


def test_generate_objects_parse_in_the_official_client() -> None:
    assert ollama.GenerateResponse.model_validate(replies.generate_delta("m", "x")).response == "x"
    final = ollama.GenerateResponse.model_validate(replies.generate_final("m", END, "all"))
    assert final.done and final.eval_count == 7
    assert replies.generate_loaded("m")["done_reason"] == "load"


def test_tags_and_show_parse_in_the_official_client(tmp_path: Path) -> None:
    spec = resolve("smollm2:135m")
    entry = replies.llm_entry(spec, tmp_path / spec.filename)  # not on disk: the catalogue size is used
    listed = ollama.ListResponse.model_validate({"models": [entry.model_dump()]})
    assert listed.models[0].model == "smollm2:135m"
    meta = {"general.architecture": "llama", "llama.context_length": "8192", "tokenizer.chat_template": "{{x}}"}
    shown = replies.llm_show(spec, tmp_path / spec.filename, meta, 4096)
    parsed = ollama.ShowResponse.model_validate(shown.model_dump())
    assert parsed.modelinfo == {"general.architecture": "llama", "llama.context_length": 8192}
    assert parsed.template == "{{x}}"
    assert parsed.capabilities == ["completion"]
