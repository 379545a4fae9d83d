"""The monitoring profile's files: Prometheus configs and alert rules pass promtool (syntax, and the rules'
own unit tests in alerts.test.yml), and every series the alerts and the Grafana dashboard query is one Alice
exports (or a recording rule)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "config" / "prometheus"
DASHBOARD = REPO / "config" / "grafana" / "dashboards" / "alice.json"
SERIES = re.compile(r"\b(alice(?::[a-z0-9_]+)+|alice_[a-z0-9_]+)\b")
SUFFIXES = ("_bucket", "_count", "_sum")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool is required (apt-get install prometheus; scripts/setup.sh does)"
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=PROMETHEUS, timeout=60)  # noqa: S603


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.local.yml"])
def test_prometheus_configs_are_valid(config: str) -> None:
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_are_valid_and_pass_their_unit_tests() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def _exported() -> set[str]:
    """Metric names defined in the services' code, and the recording rules."""
    names = set()
    for path in (REPO / "services").rglob("*.py"):
        names.update(re.findall(r"[\"'](alice_[a-z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    names.update(r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r)
    return names


def _known(series: str, exported: set[str]) -> bool:
    return series in exported or any(series.endswith(s) and series[: -len(s)] in exported for s in SUFFIXES)


def test_every_queried_series_is_exported() -> None:
    exported = _exported()
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    unknown = {s for e in exprs for s in SERIES.findall(e) if not _known(s, exported)}
    assert not unknown, f"queried but never exported: {sorted(unknown)}"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(p["datasource"]["uid"] == "alice-prometheus" for p in dashboard["panels"])
