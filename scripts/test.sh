#!/usr/bin/env bash
# The README's test command: install, lint, build, typecheck, unit + integration tests, template checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
rm -f packages/*/.test-results.json tools/*/.test-results.json infra/.test-results.json
echo "==> lint"
pnpm lint
echo "==> build, typecheck, test"
status=0
pnpm exec turbo run build typecheck test --output-logs=new-only --concurrency=2 --continue || status=$?
node scripts/test-summary.mjs || status=$?
exit "$status"
