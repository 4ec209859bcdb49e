#!/usr/bin/env bash
# The README's test command: install (Node 22 included), lint, prove the turbo cache keys (when the
# configuration changed), build, typecheck, unit + integration tests, template checks; then prove a
# second run would be FULL TURBO.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
node -e 'if (+process.versions.node.split(".")[0] < 22) { console.error(`tests run on Node >= 22 (the Lambda runtime), found ${process.version}`); process.exit(1); }'
# Reports of packages that no longer exist must not count; turbo restores the others from its cache.
rm -rf .test-results
rm -f packages/*/.test-results.json tools/*/.test-results.json infra/.test-results.json
echo "==> lint"
pnpm lint
status=0
# The cache-key probe (turbo --dry=json on a scratch copy) runs when the turbo or package configuration
# changed since the last probe that passed here, in CI, or with NETKIT_TURBO_PROBE=1 (ADR 0095). It only
# reads its scratch copy, so it runs beside the build and tests; its report is printed after them.
probe_log="$(mktemp)"
node scripts/turbo-cache.mjs probe --if-changed >"$probe_log" 2>&1 &
probe_pid=$!
# An interrupted run does not leave the probe running.
trap 'if [ -n "$probe_pid" ]; then kill "$probe_pid" 2>/dev/null || true; fi' EXIT
echo "==> build, typecheck, test (node $(node --version))"
turbo_status=0
pnpm exec turbo run build typecheck test --output-logs=new-only --continue || turbo_status=$?
echo "==> turbo cache keys: which tasks an edit re-runs"
wait "$probe_pid" || status=$?
probe_pid=""
cat "$probe_log"
rm -f "$probe_log"
# Timing tests (cold-start bounds) run alone, after every other test: see tools/bench/vitest.timing.config.ts.
echo "==> timing tests, on an otherwise idle machine"
pnpm exec turbo run test:timing --output-logs=new-only --continue || turbo_status=$?
if [ "$turbo_status" -eq 0 ]; then
  echo "==> a second run replays every task from the cache"
  node scripts/turbo-cache.mjs assert-cached build typecheck test test:timing || status=$?
else
  status=$turbo_status
fi
node scripts/test-summary.mjs || status=$?
exit "$status"
