"""``alice nlu train``, ``alice eval nlu`` and ``alice bench nlu``: the NLU engine from the command line.

Progress and the confusion summary go to stderr; each command prints one JSON object as its last stdout line.
Bad data files end in one ``error:`` line and exit code 2 (a :class:`ConfigError`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer

from alice.errors import ConfigError
from alice.logs import configure_logging

#: Swedish sentences of every kind the service sees, for ``alice bench nlu``.
BENCH_SENTENCES = (
    "Hej Alice!", "vad är klockan", "Klockan?", "vilket datum är det idag", "sätt en timer på fem minuter",
    "avbryt timern", "hur lång tid är det kvar på timern", "hur blir vädret i Göteborg imorgon",
    "vad ar vadret i sthlm", "vad är 150 delat med 6", "räkna ut 15 % av 2500 kr",
    "boka ett möte med Anna på fredag kl 14", "skriv ett mejl till anna@example.com om mötet",
    "kom ihåg att jag parkerade på plan 3", "var parkerade jag bilen?", "tänd lampan i köket",
    "släck alla lampor och sen sätt en timer på tio minuter", "förklara skillnaden mellan en fond och en aktie",
    "tack så mycket", "ring mig på 070-123 45 67 halv tre", "qwpoeiru zxmcnv",
    "kan du sammanfatta vad som hände på mötet igår och skicka det till Erik och sedan boka ett nytt möte",
)  # fmt: skip


def _say(msg: str) -> None:
    typer.echo(msg, err=True)


def quiet_logs() -> None:
    configure_logging("alice-cli", fmt="console", level="WARNING")


def _settings(**overrides: Any) -> Any:
    from nlu.settings import NLUSettings

    return NLUSettings(**overrides)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``{"text","intent"}`` file, or a :class:`ConfigError` naming the file and line."""
    from nlu.datasets import DataFileError, read_intent_file

    try:
        return read_intent_file(path)
    except DataFileError as exc:
        raise ConfigError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None


def _train(rows: Sequence[dict[str, Any]], settings: Any, embedder: Any = None) -> Any:
    from nlu.training import train

    started = time.perf_counter()
    model = train(rows, settings, embedder, progress=lambda msg: _say(f"train: {msg}"))
    _say(f"train: {model.version} ready in {time.perf_counter() - started:.1f} s")
    return model


def _embedder(settings: Any) -> Any:
    from nlu.embedder import create_embedder

    try:
        return create_embedder(settings.embedder, settings.embed_threads, settings.st_model)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"NLU embedder {settings.embedder!r}: {exc}") from None


def nlu_train(data: list[Path] | None, out: Path | None) -> dict[str, Any]:
    """Train on ``data`` (default: the repo's training files) and write the versioned artifact to ``out``."""
    from nlu.datasets import load_training_rows

    quiet_logs()
    settings = _settings()
    rows = [r for path in data for r in read_rows(path)] if data else load_training_rows(settings.data_dir)
    model = _train(rows, settings, _embedder(settings))
    target = out or settings.resolved_model_dir()
    path = model.artifact.save(target)
    _say(f"train: wrote {path}")
    from nlu.classifier import prune_artifacts

    for version in prune_artifacts(target, settings.keep_artifacts, model.version):
        _say(f"train: removed old version {version}")
    dev = model.artifact.meta.get("dev", {})
    return {"version": model.version, "path": str(path), "rows": len(rows), "labels": len(model.artifact.labels), **dev}


def read_relabelled(path: Path, labels: Path) -> list[dict[str, Any]]:
    """Rows of ``path`` labelled by id from the JSON map ``labels`` (``[{"id","intent"}]``)."""
    from nlu.datasets import DataFileError, read_jsonl, relabel_by_id

    try:
        mapping = json.loads(labels.read_text(encoding="utf-8"))
        entries_ok = isinstance(mapping, list) and all(
            isinstance(e, dict) and {"id", "intent"} <= e.keys() for e in mapping
        )
        if not entries_ok:
            raise ConfigError(f'{labels}: expected a JSON array of {{"id", "intent"}} objects')
        return relabel_by_id(read_jsonl(path), mapping)
    except DataFileError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{labels}: not JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {getattr(exc, 'filename', None) or path}: {exc}") from None


def eval_nlu(
    train: Path | None, test: Path | None, folds: int | None, data: Path | None, labels: Path | None = None
) -> dict[str, Any]:
    """The three modes of ``alice eval nlu`` (fresh model on T, the shipped model, or a k-fold check on D);
    ``labels`` relabels the test rows by id (the scenario map)."""
    from nlu.evaluation import cross_validate, evaluate

    quiet_logs()
    settings = _settings()
    if folds is not None:
        if data is None or folds < 2:
            raise ConfigError("--folds needs --data FILE and at least 2 folds")
        rows = read_rows(data)
        embedder = _embedder(settings)
        result = cross_validate(rows, folds, lambda part: _train(part, settings, embedder))
        for i, fold in enumerate(result["folds"], start=1):
            _say(f"fold {i}: {json.dumps(fold)}")
        _print_confusions(result)
        return result
    if test is None:
        raise ConfigError("give --test FILE (optionally --train FILE), or --folds K --data FILE")
    test_rows = read_relabelled(test, labels) if labels else read_rows(test)
    train_rows = read_rows(train) if train else None
    embedder = _embedder(settings)
    if train_rows is not None:
        model = _train(train_rows, settings, embedder)
    else:
        from nlu.training import load_or_train

        _say("eval: loading the model trained on the repo data (training it first if missing)")
        model = load_or_train(settings, embedder)
    result = evaluate(model, test_rows)
    _print_confusions(result)
    return result


def _print_confusions(result: dict[str, Any]) -> None:
    for c in result.get("confusions", []):
        _say(f"confusion: {c['gold']} -> {c['predicted']} x{c['count']}")
    for label, s in sorted(result.get("per_intent", {}).items()):
        _say(f"intent {label:<28} n={s['n']:<4} P={s['precision']:.2f} R={s['recall']:.2f} F1={s['f1']:.2f}")


def bench_nlu(n: int) -> dict[str, Any]:
    """Latency of one warm in-process parse (embed + classify + entities + route hint), one sentence at a time."""
    import os

    from nlu.evaluation import percentile_ms
    from nlu.parsing import parse_texts
    from nlu.training import load_or_train

    quiet_logs()
    settings = _settings()
    model = load_or_train(settings, _embedder(settings))
    for text in BENCH_SENTENCES:  # warm-up: caches, the C engine's buffers
        parse_texts(model, [text])
    samples: list[float] = []
    embed: list[float] = []
    for i in range(n):
        text = BENCH_SENTENCES[i % len(BENCH_SENTENCES)]
        start = time.perf_counter()
        batch = parse_texts(model, [text])
        samples.append((time.perf_counter() - start) * 1000)
        embed.append(batch.embed_ms)
    return {
        "n": n,
        "p50_ms": percentile_ms(samples, 50),
        "p95_ms": percentile_ms(samples, 95),
        "p99_ms": percentile_ms(samples, 99),
        "embed_p50_ms": percentile_ms(embed, 50),
        "embed_p95_ms": percentile_ms(embed, 95),
        "without_embed_p95_ms": percentile_ms([t - e for t, e in zip(samples, embed, strict=True)], 95),
        "mean_ms": round(sum(samples) / len(samples), 2) if samples else 0.0,
        "sentences": len(BENCH_SENTENCES),
        "model_version": model.version,
        "embedder": model.embedder.name,
        "embed_threads": settings.embed_threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cpu_count": os.cpu_count(),
    }
