"""Measure a running modelserver (or any Ollama) through the official client: speed, first token, prefix reuse.

    python scripts/bench_modelserver.py --url http://127.0.0.1:11434 --model smollm2:135m

Prints progress to stderr and one JSON object as the last stdout line:

- ``tokens_per_s``: server-side generation speed (eval_count / eval_duration), median of the runs;
- ``ttft_s``: client-side time to the first streamed token for a short prompt, median;
- ``prefix``: a long static system prompt sent cold (after an unrelated request evicted it) and warm (same
  system prompt, new question): time to first token and prompt tokens evaluated, medians, and the speedup.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import ollama

SYSTEM = (
    "Du är Alice, en svensk assistent. Svara kort och sakligt på svenska. "
    "Om frågan gäller väder, tid, påminnelser eller kalendern, välj rätt verktyg och svara med JSON. "
) * 12
QUESTIONS = ["Vad är klockan?", "Hur blir vädret i Göteborg?", "Påminn mig om mötet.", "Vem är du?"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def first_token(client: ollama.Client, model: str, messages: list[dict[str, str]], n: int) -> tuple[float, Any]:
    """Seconds to the first content chunk, and the final chunk."""
    start = time.perf_counter()
    ttft = None
    final = None
    for part in client.chat(model=model, messages=messages, stream=True, options={"temperature": 0, "num_predict": n}):
        if ttft is None and part.message.content:
            ttft = time.perf_counter() - start
        final = part
    return (ttft if ttft is not None else time.perf_counter() - start), final


def speed(client: ollama.Client, model: str, runs: int) -> dict[str, float]:
    tps, ttfts = [], []
    for i in range(runs):
        messages = [{"role": "user", "content": f"Write a long story about a cat called Måns ({i})."}]
        ttft, final = first_token(client, model, messages, 128)
        ttfts.append(ttft)
        if final and final.eval_count and final.eval_duration:
            tps.append(final.eval_count / (final.eval_duration / 1e9))
        log(f"  speed run {i + 1}: ttft {ttft:.3f}s, {tps[-1] if tps else 0:.1f} tok/s")
    return {"tokens_per_s": statistics.median(tps), "ttft_s": statistics.median(ttfts)}


def prefix(client: ollama.Client, model: str, runs: int) -> dict[str, float]:
    cold_t, warm_t, cold_n, warm_n = [], [], [], []
    for i in range(runs):
        first_token(client, model, [{"role": "user", "content": f"Unrelated {i}: name a colour."}], 1)
        for j, store_t, store_n in ((0, cold_t, cold_n), (1, warm_t, warm_n)):
            question = QUESTIONS[(2 * i + j) % len(QUESTIONS)]
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
            ttft, final = first_token(client, model, msgs, 1)
            store_t.append(ttft)
            store_n.append(float(final.prompt_eval_count or 0) if final else 0.0)
        log(f"  prefix run {i + 1}: cold {cold_t[-1]:.3f}s ({cold_n[-1]:.0f} tok), warm {warm_t[-1]:.3f}s "
            f"({warm_n[-1]:.0f} tok)")  # fmt: skip
    cold, warm = statistics.median(cold_t), statistics.median(warm_t)
    return {
        "cold_ttft_s": cold,
        "warm_ttft_s": warm,
        "cold_prompt_eval_count": statistics.median(cold_n),
        "warm_prompt_eval_count": statistics.median(warm_n),
        "speedup": cold / warm if warm > 0 else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:11434")
    parser.add_argument("--model", default="smollm2:135m")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    client = ollama.Client(host=args.url, timeout=600)
    log(f"{args.model} at {args.url}: warm-up")
    first_token(client, args.model, [{"role": "user", "content": "Hej"}], 4)
    result: dict[str, Any] = {"model": args.model, "url": args.url, "runs": args.runs}
    result.update(speed(client, args.model, args.runs))
    result["prefix"] = prefix(client, args.model, args.runs)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
