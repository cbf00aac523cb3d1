#!/usr/bin/env bash
# The web UI's end-to-end journey: Debian's Chromium (driven by playwright-core) against a real keyport, a
# fresh PostgreSQL database and the LiteLLM double, all on loopback and all stopped at the end.
#
# Builds the UI and the binaries, takes a PostgreSQL server from scripts/postgres.sh and creates a database
# of its own (dropped at the end), starts the double (demo models) and `keyport serve` with the development
# login, then runs web-ui/e2e/journey.mjs (a user's journey, then the administration: restrict a model,
# approve a request, auditor read-only). Screenshots of a failure are kept in web-ui/test-results/.
#
#   scripts/e2e.sh           run the journey (screenshots of every step in web-ui/test-results/journey/)
#   scripts/e2e.sh --docs    also write the steps' screenshots to docs/images/ for docs/user-guide.md
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

docs=""
case "${1:-}" in
  "") ;;
  --docs) docs=1 ;;
  *) die "usage: $0 [--docs]" ;;
esac

# One folder per run: two runs at once (two `just test`s) must not read each other's logs.
run_dir="$KEYPORT_ROOT/.dev/e2e/run-$$"
mkdir -p "$run_dir"

section "e2e: build"
"$KEYPORT_ROOT/scripts/web.sh" build
cargo build -p keyport-server -p keyport-litellm-double --bins
bin="$(target_dir)/debug"
keyport="$bin/keyport"
if [[ ! -x "${KEYPORT_CHROMIUM:-/usr/bin/chromium}" ]]; then apt_install chromium || die "Chromium is needed"; fi

pids=()
names=()
server_url=""
database=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" "${names[i]}"; done
  pids=() names=()
  if [[ -n "$database" ]]; then
    "$(psql_bin)" -q -X "$(url_with_database "$server_url" postgres)" -c "SET client_min_messages = warning" \
      -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || warn "could not drop $database"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

section "e2e: PostgreSQL, LiteLLM double, keyport"
server_url=${KEYPORT_TEST_DATABASE_URL:-${DATABASE_URL:-}}
[[ -n "$server_url" ]] || server_url=$("$KEYPORT_ROOT/scripts/postgres.sh")
database="keyport_e2e_$$"
DATABASE_URL=$(ensure_database "$server_url" "$database" fresh)
# keyport works as the serve role (owns nothing) and migrates as the server's role, where roles can be made.
if serve_url=$(serve_role_url "$DATABASE_URL"); then
  export KEYPORT_MIGRATE_DATABASE_URL="$DATABASE_URL"
  DATABASE_URL=$serve_url
else
  warn "could not create the serve role $KEYPORT_SERVE_ROLE; keyport runs as the database owner"
fi
export DATABASE_URL

LITELLM_MASTER_KEY=$(new_master_key)
"$bin/litellm-double" --host 127.0.0.1 --port "$(free_port)" --master-key "$LITELLM_MASTER_KEY" --demo-models \
  >"$run_dir/litellm-double.log" 2>&1 &
pids+=("$!") names+=(litellm-double)
line=$(wait_for_line "$run_dir/litellm-double.log" 'listening on http://[^[:space:]]+' "${pids[-1]}" 60) ||
  die "the LiteLLM double did not start (log: $run_dir/litellm-double.log)"
LITELLM_URL=${line#listening on }
export LITELLM_URL LITELLM_MASTER_KEY KEYPORT_PUBLIC_LITELLM_URL="$LITELLM_URL"

"$keyport" migrate >"$run_dir/migrate.log" 2>&1 || die "keyport migrate failed (log: $run_dir/migrate.log)"
"$keyport" sync models >>"$run_dir/migrate.log" 2>&1 || die "keyport sync models failed (log: $run_dir/migrate.log)"
KEYPORT_BIND="127.0.0.1:$(free_port)" KEYPORT_PROFILE=development KEYPORT_DEV_LOGIN=true \
  KEYPORT_SYNC_INTERVAL_SECS=0 KEYPORT_JOB_POLL_MS=200 "$keyport" serve >"$run_dir/keyport.log" 2>&1 &
pids+=("$!") names+=(keyport)
line=$(wait_for_line "$run_dir/keyport.log" 'keyport listening on http://[^[:space:]]+' "${pids[-1]}" 120) ||
  die "keyport did not start (log: $run_dir/keyport.log)"
KEYPORT_URL=${line#keyport listening on }
log "keyport at $KEYPORT_URL, LiteLLM double at $LITELLM_URL (logs in $run_dir)"

section "e2e: journey in Chromium"
status=0
(cd web-ui && KEYPORT_URL="$KEYPORT_URL" LITELLM_URL="$LITELLM_URL" E2E_DOCS_IMAGES="${docs:+$KEYPORT_ROOT/docs/images}" \
  node e2e/journey.mjs) || status=$?
if ((status != 0)); then
  warn "the journey failed: screenshots in web-ui/test-results/, logs in $run_dir"
else
  rm -rf "$run_dir"
fi
exit "$status"
