#!/usr/bin/env bash
# The README's test command: installs what is missing, then lint, types, import contracts and every test
# (unit, integration with real processes, e2e through Caddy). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --model smollm2:135m --with-st
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff" >&2
ruff check services tests scripts
ruff format --check services tests scripts
echo "== mypy" >&2
mypy
echo "== import contracts" >&2
lint-imports
echo "== pytest" >&2
set +e
pytest "$@"
code=$?
set -e
if [[ $code -eq 5 ]]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit $code
