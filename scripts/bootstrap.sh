#!/usr/bin/env bash
# Installs what the repo needs on a fresh machine with Node >= 20, Python 3 and pip:
# the pinned pnpm, the locked npm dependencies, and the Python tools (moto, cfn-lint).
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION="$(node -p "require('./package.json').packageManager.split('@')[1]")"
PYTHON="${PYTHON:-python3}"

node -e 'const [major] = process.versions.node.split(".").map(Number); if (major < 20) { console.error(`Node >= 20 is required, found ${process.version}`); process.exit(1); }'

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "==> installing pnpm@$PNPM_VERSION"
  if ! npm install --global "pnpm@$PNPM_VERSION" >/dev/null 2>&1; then
    echo "    npm install --global failed (permissions?); trying corepack"
    corepack enable && corepack prepare "pnpm@$PNPM_VERSION" --activate
  fi
  hash -r
fi

if ! "$PYTHON" - <<'PY' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("moto") == "5.2.1"
import moto.server, cfnlint, samtranslator  # noqa: F401
PY
then
  echo "==> installing Python tools: $(grep -v '^#' requirements-dev.txt | xargs)"
  "$PYTHON" -m pip install --quiet -r requirements-dev.txt
fi

echo "==> pnpm install --frozen-lockfile"
pnpm install --frozen-lockfile --reporter=silent
