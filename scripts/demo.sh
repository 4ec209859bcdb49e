#!/usr/bin/env bash
# The README's demo command: install what is missing, build the bundles, run every scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
pnpm demo "$@"
