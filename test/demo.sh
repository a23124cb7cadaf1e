#!/usr/bin/env bash
# test/demo.sh — `make demo`: build + install opsmeter, start a throwaway
# PostgreSQL 15 cluster (removed again on exit), and run test/demo.sql in it:
# create a workspace, ingest sample LLM traffic (single event, duplicate, a
# 50-event batch, NDJSON) and show what was stored and what it cost.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
export REPO
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

opsmeter_require_packages
opsmeter_build_install
opsmeter_cluster_start demo

echo
opsmeter_log "running $HERE/demo.sql"
psql -X -v ON_ERROR_STOP=1 -f "$HERE/demo.sql"
echo
opsmeter_log "demo finished; the throwaway cluster is removed now"
