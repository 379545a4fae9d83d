"""The deployment files, checked without a Docker engine.

docker-compose.yml, docker/*.Dockerfile, .dockerignore and .env.example are parsed and held against each other
and against the code: every service has a healthcheck, only Caddy publishes a port, every image is built from
a Dockerfile that exists and installs only its service's extra, and .env.example documents exactly the
variables the project reads (no more, no fewer).

Not done here: validation against the official Compose JSON schema. No PyPI package ships the current schema
as data (``docker-compose`` 1.x carries a 2021 copy but pins PyYAML < 6; ``schemastore`` keeps it in an
expiring HTTP cache; ``ecs-composex-specs`` ships a modified 2021 fork), so the structure is asserted here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO / "services"
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERIGNORE = REPO / ".dockerignore"
CADDYFILE = REPO / "Caddyfile"

# Service -> container port, as in docs/CONTRACTS.md.
ALICE_SERVICES = {"guardian": 8787, "orchestrator": 8000, "nlu": 9002, "modelserver": 11434}
EXPECTED_SERVICES = {
    "redis",
    "ollama",
    "ollama-pull",
    "modelserver",
    "nlu",
    "orchestrator",
    "guardian",
    "caddy",
    "prometheus",
    "grafana",
}
MONITORING = {"prometheus", "grafana"}
# Variables read by docker compose itself rather than by a service.
COMPOSE_BUILTINS = {"COMPOSE_PROFILES", "GRAFANA_ADMIN_PASSWORD"}
# Variables set in compose for third-party software inside an Alice image (uvicorn), not read by Alice.
THIRD_PARTY_ENV = {"FORWARDED_ALLOW_IPS"}

ENV_LINE = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")
INTERPOLATION = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}$]*))?\})")
CADDY_ENV = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
# os.environ.get("X"), os.getenv("X"), os.environ["X"], a helper named _env_*("X"), typer's envvar="X".
ENV_READ = re.compile(
    r"(?:\benviron\.get\(|\bgetenv\(|\benviron\[|\b_env_\w*\(|\benvvar=)\s*[\"']([A-Z][A-Z0-9_]+)[\"']"
)


# ---------------------------------------------------------------------------------------------------------------
# helpers
@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def one_shot(svc: dict[str, Any]) -> bool:
    """A job that runs to completion (``restart: "no"``), not a long-running service."""
    return svc.get("restart") == "no"


def depends_on(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = svc.get("depends_on", {})
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def environment(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


@cache
def env_example() -> dict[str, str]:
    """Variables documented in .env.example (``NAME=value`` or ``# NAME=value``) with their values."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = ENV_LINE.match(line)
        if m:
            assert m.group(1) not in found, f"{m.group(1)} is documented twice in .env.example"
            found[m.group(1)] = m.group(2)
    return found


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions per stage, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            image, _, alias = rest.partition(" AS ")
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image.strip())
            stages.append(Stage(base=image, name=alias.strip() or None))
        elif not stages:
            assert keyword == "ARG", f"{path.name}: only ARG may come before the first FROM, got {keyword}"
            name, _, default = rest.partition("=")
            args[name] = default.strip('"')
        else:
            stages[-1].instructions.append((keyword, rest))
    return Dockerfile(path=path, args=args, stages=stages)


def dockerignore_excludes(rel_path: str) -> bool:
    """Docker's rule: the last pattern matching the path (or one of its parents) decides."""

    def to_regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                out += ".*"
                i += 2
            elif pattern[i] == "*":
                out += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                out += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out += pattern[i : end + 1]
                i = end + 1
            else:
                out += re.escape(pattern[i])
                i += 1
        return re.compile(out + r"\Z")

    parts = rel_path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        regex = to_regex(line.lstrip("!").strip("/"))
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def interpolated(text: str) -> set[str]:
    return {m.group(1) for m in INTERPOLATION.finditer(text) if m.group(1)}


def compose_variables() -> set[str]:
    """Variables interpolated anywhere in the parsed compose file (comments are not interpolated)."""

    def strings(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [s for k, v in node.items() for s in (*strings(k), *strings(v))]
        if isinstance(node, list):
            return [s for item in node for s in strings(item)]
        return [node] if isinstance(node, str) else []

    return {name for text in strings(compose()) for name in interpolated(text)}


def caddyfile_variables() -> set[str]:
    lines = [line for line in CADDYFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    return set(CADDY_ENV.findall("\n".join(lines)))


# ---------------------------------------------------------------------------------------------------------------
# docker-compose.yml
def test_compose_has_every_service() -> None:
    assert set(services()) == EXPECTED_SERVICES


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, svc in services().items():
        if one_shot(svc):
            assert "healthcheck" not in svc, f"{name} is a one-shot job: a healthcheck would never pass"
            continue
        hc = svc.get("healthcheck")
        assert hc and not hc.get("disable"), f"{name} has no healthcheck"
        test = hc["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), f"{name}: healthcheck.test {test!r}"
        assert hc.get("interval") and hc.get("retries"), f"{name}: healthcheck needs interval and retries"


def test_alice_services_check_readiness_on_their_own_port() -> None:
    """Slim images have no curl: the check is Python's urllib against /ready on the service's port."""
    for name, port in ALICE_SERVICES.items():
        test = services()[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], f"{name}: {test!r}"
        assert "urllib.request.urlopen" in test[3]
        assert f"http://127.0.0.1:{port}/ready" in test[3], f"{name} should check /ready on :{port}"


def test_only_caddy_publishes_a_port_on_loopback_by_default() -> None:
    publishing = {name for name, svc in services().items() if svc.get("ports")}
    assert publishing == {"caddy", *MONITORING}
    for name in MONITORING:  # the monitoring profile's UIs: loopback only, never the network
        assert all(str(m).startswith("127.0.0.1:") for m in services()[name]["ports"]), name
    for name, svc in services().items():
        assert svc.get("network_mode") != "host", f"{name} must not use the host network"
    (mapping,) = services()["caddy"]["ports"]
    assert mapping == "${ALICE_PUBLISH_ADDR:-127.0.0.1}:${ALICE_CADDY_PORT:-18000}:18000"


def test_caddy_serves_the_repo_caddyfile_to_the_guardian() -> None:
    caddy = services()["caddy"]
    assert caddy["image"].startswith("caddy:2")
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    env = environment(caddy)
    assert env["ALICE_BIND"] == "0.0.0.0"
    assert env["ALICE_CADDY_PORT"] == "18000"
    assert env["CADDY_ADMIN"].startswith("127.0.0.1:")
    assert env["GUARDIAN_UPSTREAM"] == f"guardian:{ALICE_SERVICES['guardian']}"


def test_builds_use_dockerfiles_that_exist_and_every_dockerfile_is_used() -> None:
    used = set()
    for name, svc in services().items():
        if "build" not in svc:
            assert "image" in svc, f"{name} has neither image nor build"
            continue
        build = svc["build"]
        assert build["context"] == ".", f"{name}: build from the repository root"
        dockerfile = REPO / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        assert dockerfile == REPO / "docker" / f"{name}.Dockerfile"
        used.add(dockerfile)
    assert used == set((REPO / "docker").glob("*.Dockerfile"))
    assert {name for name, svc in services().items() if "build" in svc} == set(ALICE_SERVICES)


def test_third_party_images_are_the_expected_ones() -> None:
    assert services()["redis"]["image"] == "redis:7-alpine"
    assert services()["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services()["ollama"]["image"].startswith("ollama/ollama")
    assert services()["ollama-pull"]["image"] == services()["ollama"]["image"]


def test_depends_on_waits_for_health_and_references_real_services() -> None:
    for name, svc in services().items():
        for dep, spec in depends_on(svc).items():
            assert dep in services(), f"{name} depends on undefined service {dep}"
            target = services()[dep]
            if one_shot(target):
                assert spec["condition"] == "service_completed_successfully", f"{name} -> {dep}"
            else:
                assert spec["condition"] == "service_healthy", f"{name} -> {dep}: wait for health"
                assert "healthcheck" in target


def test_every_one_shot_job_is_awaited_by_a_long_running_service() -> None:
    """Otherwise ``docker compose up --wait`` reports the job's clean exit as a failure."""
    for name, svc in services().items():
        if one_shot(svc):
            waiters = [
                other
                for other, o in services().items()
                if not one_shot(o) and depends_on(o).get(name, {}).get("condition") == "service_completed_successfully"
            ]
            assert waiters, f"{name} is a one-shot job nothing waits for"


def test_depends_on_has_no_cycle() -> None:
    graph = {name: set(depends_on(svc)) for name, svc in services().items()}
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"dependency cycle: {' -> '.join((*path, node))}"
        if node not in done:
            for dep in graph[node]:
                visit(dep, (*path, node))
            done.add(node)

    for node in graph:
        visit(node, ())


def test_request_path_starts_in_order() -> None:
    assert set(depends_on(services()["caddy"])) == {"guardian"}
    assert set(depends_on(services()["guardian"])) == {"orchestrator", "redis"}  # redis: the rate limits
    assert {"redis", "nlu"} <= set(depends_on(services()["orchestrator"]))


def test_llm_profiles_are_alternatives_behind_one_name() -> None:
    svc = services()
    assert svc["ollama"]["profiles"] == ["ollama"]
    assert svc["ollama-pull"]["profiles"] == ["ollama"]
    assert svc["modelserver"]["profiles"] == ["modelserver"]
    for name in ("ollama", "modelserver"):
        assert svc[name]["networks"]["default"]["aliases"] == ["llm"], f"{name} must answer as 'llm'"
    orch = depends_on(svc["orchestrator"])
    for dep in ("ollama-pull", "modelserver"):
        assert orch[dep].get("required") is False, f"orchestrator -> {dep} must not require a disabled profile"
    assert environment(svc["orchestrator"])["OLLAMA_HOST"] == "${OLLAMA_HOST:-http://llm:11434}"
    # One model name for the pull, the modelserver and the orchestrator.
    model = "${ALICE_MODEL:-qwen2.5-coder:1.5b}"
    assert svc["ollama-pull"]["entrypoint"] == ["ollama", "pull", model]
    assert environment(svc["orchestrator"])["ORCHESTRATOR_MODEL"] == model
    assert model in environment(svc["modelserver"]).values()


def test_profiled_services_are_the_llms_and_monitoring() -> None:
    profiled = {name for name, svc in services().items() if svc.get("profiles")}
    assert profiled == {"ollama", "ollama-pull", "modelserver", *MONITORING}
    assert all(services()[name]["profiles"] == ["monitoring"] for name in MONITORING)


def test_the_monitoring_profile_mounts_the_repo_config() -> None:
    assert "./config/prometheus:/etc/prometheus:ro" in services()["prometheus"]["volumes"]
    assert "./config/grafana/dashboards:/var/lib/grafana/dashboards:ro" in services()["grafana"]["volumes"]


def test_internal_secret_is_required_where_it_is_used() -> None:
    users = {name for name, svc in services().items() if "ALICE_INTERNAL_SECRET" in environment(svc)}
    assert users == {"guardian", "orchestrator"}
    for name in users:
        value = environment(services()[name])["ALICE_INTERNAL_SECRET"]
        assert value.startswith("${ALICE_INTERNAL_SECRET:?"), f"{name}: the secret must be required"


def test_containers_use_compose_dns_names_and_listen_on_all_interfaces() -> None:
    svc = services()
    orch = environment(svc["orchestrator"])
    assert orch["REDIS_URL"] == "redis://redis:6379/0"
    assert orch["ORCHESTRATOR_NLU_URL"] == f"http://nlu:{ALICE_SERVICES['nlu']}"
    assert environment(svc["guardian"])["GUARDIAN_UPSTREAM_URL"] == (
        f"http://orchestrator:{ALICE_SERVICES['orchestrator']}"
    )
    for name in ALICE_SERVICES:
        assert environment(svc[name])[f"{name.upper()}_HOST"] == "0.0.0.0"
        assert svc[name]["env_file"] == ".env"
        assert svc[name]["cap_drop"] == ["ALL"]


def test_every_dollar_is_a_valid_interpolation() -> None:
    text = COMPOSE.read_text()
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        stripped = INTERPOLATION.sub("", line)
        assert "$" not in stripped, f"docker-compose.yml:{lineno}: malformed interpolation: {line.strip()}"


def test_every_variable_compose_uses_is_documented() -> None:
    documented = set(env_example())
    missing = compose_variables() - documented
    assert not missing, f"interpolated in docker-compose.yml but not in .env.example: {sorted(missing)}"
    for name in ALICE_SERVICES:
        keys = set(environment(services()[name])) - THIRD_PARTY_ENV
        assert keys <= documented, f"{name} sets undocumented variables: {sorted(keys - documented)}"


# ---------------------------------------------------------------------------------------------------------------
# docker/*.Dockerfile and .dockerignore
@pytest.mark.parametrize("service", sorted(ALICE_SERVICES))
def test_dockerfile_builds_one_service_as_non_root(service: str) -> None:
    df = parse_dockerfile(REPO / "docker" / f"{service}.Dockerfile")
    assert df.args.get("PYTHON_IMAGE") == "python:3.11-slim"
    assert all(stage.base == "python:3.11-slim" for stage in df.stages)
    final = df.final
    users = final.all("USER")
    assert users and users[-1] not in ("root", "0"), f"{service}: the final stage must run as a non-root user"
    last_user = max(i for i, (kw, _) in enumerate(final.instructions) if kw == "USER")
    last_run = max((i for i, (kw, _) in enumerate(final.instructions) if kw == "RUN"), default=-1)
    assert last_run < last_user, f"{service}: USER must come after the last RUN"
    installs = " ".join(args for stage in df.stages for args in stage.all("RUN"))
    extras = re.findall(r"pip install \"\.\[([a-z,]+)\]\"", installs)
    assert extras == [service], f"{service}: install exactly its own extra, found {extras}"
    assert service in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]


@pytest.mark.parametrize("service", sorted(ALICE_SERVICES))
def test_dockerfile_serves_the_app_factory_with_a_healthcheck(service: str) -> None:
    port = ALICE_SERVICES[service]
    final = parse_dockerfile(REPO / "docker" / f"{service}.Dockerfile").final
    assert final.all("EXPOSE") == [str(port)]
    (cmd_raw,) = final.all("CMD")
    cmd = json.loads(cmd_raw)  # exec form, so uvicorn is PID 1 (or exec'd by sh) and gets the signals
    uvicorn = cmd if cmd[0] == "uvicorn" else cmd[-1].split("exec ", 1)[1].split()
    assert uvicorn[:3] == ["uvicorn", f"{service}.app:create_app", "--factory"], cmd
    assert uvicorn[uvicorn.index("--host") + 1] == "0.0.0.0"
    assert uvicorn[uvicorn.index("--port") + 1] == str(port)
    app = (SERVICES_DIR / service / "app.py").read_text()
    assert re.search(r"^def create_app\(", app, re.MULTILINE), f"{service}/app.py has no create_app"
    (health,) = final.all("HEALTHCHECK")
    assert "CMD [" in health and f"http://127.0.0.1:{port}/health" in health
    assert json.loads(health.split("CMD", 1)[1])[:2] == ["python", "-c"]


@pytest.mark.parametrize("service", sorted(ALICE_SERVICES))
def test_dockerfile_copies_only_what_exists_and_is_in_the_context(service: str) -> None:
    df = parse_dockerfile(REPO / "docker" / f"{service}.Dockerfile")
    for stage in df.stages:
        for args in stage.all("COPY"):
            if args.startswith("--from="):
                continue
            *sources, _dest = args.split()
            for src in sources:
                assert (REPO / src).exists(), f"{service}: COPY {src} does not exist"
                assert not dockerignore_excludes(src), f"{service}: COPY {src} is excluded by .dockerignore"


def test_modelserver_image_compiles_llama_cpp_portably_and_pulls_its_model() -> None:
    df = parse_dockerfile(REPO / "docker" / "modelserver.Dockerfile")
    build = df.stages[0]
    cmake = next(args for args in build.all("ARG") if args.startswith("CMAKE_ARGS="))
    for flag in ("-DGGML_NATIVE=OFF", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON"):
        assert flag in cmake
    assert any("build-essential" in args and "cmake" in args for args in build.all("RUN"))
    assert any("libgomp1" in args for args in df.final.all("RUN")), "llama.cpp's OpenMP runtime"
    (cmd_raw,) = df.final.all("CMD")
    assert "alice models pull" in json.loads(cmd_raw)[-1]


def test_dockerignore_keeps_the_context_to_the_sources() -> None:
    for kept in ("pyproject.toml", "README.md", "services/alice/settings.py", "services/nlu/data"):
        assert not dockerignore_excludes(kept), kept
    for dropped in (
        ".env",
        ".venv/bin/python",
        ".git/config",
        "tests/conftest.py",
        "docker-compose.yml",
        "services/alice/__pycache__/settings.cpython-311.pyc",
        "models/x.gguf",
        "services/alice.egg-info/PKG-INFO",
    ):
        assert dockerignore_excludes(dropped), dropped


# ---------------------------------------------------------------------------------------------------------------
# .env.example against the code
NO_DEFAULT = object()


@dataclass(frozen=True)
class SettingsVar:
    owner: str
    names: tuple[str, ...]  # any of these sets the field
    default: Any = NO_DEFAULT


@cache
def settings_vars() -> tuple[SettingsVar, ...]:
    """Environment names of every field of every concrete settings class (alice.fibonacci, */settings.py)."""
    from pydantic import AliasChoices
    from pydantic_settings import BaseSettings

    modules = ["alice.fibonacci"] + [
        f"{path.parent.name}.settings"
        for path in sorted(SERVICES_DIR.glob("*/settings.py"))
        if path.parent.name != "alice"  # alice.settings holds the abstract bases
    ]
    found: list[SettingsVar] = []
    for module_name in modules:
        module = importlib.import_module(module_name)
        for cls in vars(module).values():
            if not (inspect.isclass(cls) and issubclass(cls, BaseSettings) and cls.__module__ == module_name):
                continue
            prefix = cls.model_config.get("env_prefix", "")
            for fname, info in cls.model_fields.items():
                alias = info.validation_alias
                if isinstance(alias, AliasChoices):
                    # Upper-case choices are environment names; lower-case ones are for Settings(field=...).
                    names = tuple(c for c in alias.choices if isinstance(c, str) and c.isupper())
                elif isinstance(alias, str):
                    names = (alias.upper(),)
                else:
                    names = ((prefix + fname).upper(),)
                assert names, f"{cls.__name__}.{fname} has no environment name"
                default = NO_DEFAULT if info.default_factory is not None else info.default
                found.append(SettingsVar(f"{module_name}.{cls.__name__}.{fname}", names, default))
    return tuple(found)


@cache
def literal_env_reads() -> frozenset[str]:
    """Names read directly (``os.environ.get("X")`` and the like) anywhere under services/."""
    names: set[str] = set()
    for path in SERVICES_DIR.rglob("*.py"):
        names.update(ENV_READ.findall(path.read_text(encoding="utf-8")))
    return frozenset(names)


def deploy_reads() -> set[str]:
    """Names the Caddyfile substitutes and docker-compose.yml interpolates, plus compose's own."""
    return caddyfile_variables() | compose_variables() | COMPOSE_BUILTINS


def test_env_example_documents_only_variables_something_reads() -> None:
    read = {n for var in settings_vars() for n in var.names} | literal_env_reads() | deploy_reads()
    unread = set(env_example()) - read
    assert not unread, f".env.example documents variables nothing reads: {sorted(unread)}"


def test_env_example_documents_every_settings_field() -> None:
    documented = set(env_example())
    missing = [
        f"{var.owner} ({' or '.join(var.names)})" for var in settings_vars() if not documented.intersection(var.names)
    ]
    assert not missing, "settings fields missing from .env.example:\n" + "\n".join(missing)


def test_env_example_documents_every_direct_read_and_deploy_variable() -> None:
    missing = (literal_env_reads() | deploy_reads()) - set(env_example())
    assert not missing, f"read but not documented in .env.example: {sorted(missing)}"


def test_env_example_names_the_shared_variables() -> None:
    shared = {
        "ALICE_INTERNAL_SECRET",
        "ALICE_LOG_FORMAT",
        "ALICE_LOG_LEVEL",
        "ALICE_HOME",
        "ALICE_MODELS_DIR",
        "REDIS_URL",
        "OLLAMA_HOST",
        "ALICE_CADDY_PORT",
        "GUARDIAN_PORT",
        "ORCHESTRATOR_PORT",
        "NLU_PORT",
        "MODELSERVER_PORT",
        "FIB_CACHE_TTLS_H",
        "FIB_RETRY_DELAYS",
        "FIB_TIMEOUT_PHASES",
        "ENABLE_PHI_LOAD_BALANCER",
        "PHI_PRIMARY_WEIGHT",
        "PHI_SECONDARY_WEIGHT",
        "FIB_SPIRAL_POINTS",
    }
    assert shared <= set(env_example()), sorted(shared - set(env_example()))


def test_env_example_ships_no_secret_and_explains_every_variable() -> None:
    env = env_example()
    assert env["ALICE_INTERNAL_SECRET"] == "", "the example must not ship a usable secret"
    assert not re.search(r"alice_[a-z0-9]{8}_[A-Za-z0-9_\-]{32,}", ENV_EXAMPLE.read_text()), "no API key"
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = ENV_LINE.match(line)
        if m:
            assert previous.startswith("#"), f"{m.group(1)} has no comment above it"
        previous = line


def _shows(value: str, default: Any) -> bool:
    if isinstance(default, bool):
        return value == str(default).lower()
    if isinstance(default, int | float):
        return float(value) == pytest.approx(float(default))
    if isinstance(default, list):
        return [float(v) for v in value.split(",")] == pytest.approx([float(v) for v in default])
    return bool(value == default)


def test_env_example_defaults_match_the_code() -> None:
    """``# NAME=value`` shows the default, so it must be the code's (unset or computed defaults show examples)."""
    env = env_example()
    checked = 0
    for var in settings_vars():
        shown = [env[n] for n in var.names if n in env]
        if not shown or not isinstance(var.default, str | int | float | bool | list):
            continue
        assert _shows(shown[0], var.default), f"{var.owner}: .env.example shows {shown[0]!r}, code {var.default!r}"
        checked += 1
    assert checked > 40
    for service, port in ALICE_SERVICES.items():
        assert env[f"{service.upper()}_PORT"] == str(port)
    assert env["ALICE_CADDY_PORT"] == "18000"
