"""The peers ``alice bench peers`` compares with, installed from PyPI into their own virtual environments.

Each peer lives in ``$ALICE_HOME/peers/<name>-venv`` with pinned versions (:data:`PINS`); a marker file records
the pins, so a later run reuses the venv and a change of pins reinstalls it. Installing needs PyPI (or the pip
mirror configured on the machine); running the bench afterwards needs no network.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from alice.errors import ConfigError

#: Versions measured in docs/PERFORMANCE.md. GPTCache runs ``pip install`` itself for a missing optional
#: dependency (SQLAlchemy for its SQLite store), so everything it needs is listed here.
PINS: Final[dict[str, tuple[str, ...]]] = {
    "litellm": ("litellm[proxy]==1.106.2",),
    "gptcache": ("gptcache==0.1.44", "faiss-cpu==1.15.1", "numpy==2.4.6", "SQLAlchemy==2.1.9"),
}
INSTALL_TIMEOUT_S: Final = 1200
_NETWORK_HINTS: Final = (
    "Could not find a version",
    "No matching distribution",
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
)


def venv_dir(home: Path, name: str) -> Path:
    """Where peer ``name`` is installed."""
    return home / "peers" / f"{name}-venv"


def _marker(venv: Path) -> Path:
    return venv / "alice-pins.txt"


def installed(home: Path, name: str) -> bool:
    """True when the peer's venv exists with exactly the pinned versions."""
    marker = _marker(venv_dir(home, name))
    return marker.is_file() and marker.read_text().split() == list(PINS[name])


def ensure_peer(home: Path, name: str, say: Callable[[str], None]) -> Path:
    """The peer's venv (its ``bin/python``), installed first when missing; a one-line ConfigError when pip
    fails (PyPI unreachable, a pin gone)."""
    venv = venv_dir(home, name)
    python = venv / "bin" / "python"
    if installed(home, name):
        return python
    if venv.exists():
        shutil.rmtree(venv)
    say(f"peers: installing {' '.join(PINS[name])} into {venv} (once; LiteLLM takes about 3 minutes)")
    started = time.monotonic()
    _run([sys.executable, "-m", "venv", str(venv)], name, say)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    _run([*pip, *PINS[name]], name, say)
    _marker(venv).write_text("\n".join(PINS[name]) + "\n")
    say(f"peers: {name} installed in {time.monotonic() - started:.0f} s")
    return python


def _run(cmd: list[str], name: str, say: Callable[[str], None]) -> None:
    lines: list[str] = []
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603
    except OSError as exc:
        raise ConfigError(f"cannot install {name}: {exc}") from None
    assert proc.stdout is not None  # noqa: S101 - PIPE was asked for
    deadline = time.monotonic() + INSTALL_TIMEOUT_S
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith(("Collecting", "Successfully", "ERROR")):
            say(f"peers: {name}: {line.rstrip()}")
        if time.monotonic() > deadline:
            proc.kill()
            break
    code = proc.wait()
    if code == 0:
        return
    text = "\n".join(lines)
    last = next((ln for ln in reversed(lines) if ln.strip()), "no output")
    if any(hint in text for hint in _NETWORK_HINTS):
        raise ConfigError(f"cannot install {name} from PyPI (is it reachable?): {last}")
    raise ConfigError(f"installing {name} failed (exit {code}): {last}")
