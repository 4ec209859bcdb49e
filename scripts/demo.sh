#!/usr/bin/env bash
# The README's demo command: install what is missing (Node 22 included), build the bundles, run every
# scenario on Node 22.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
pnpm demo "$@"
