#!/usr/bin/env bash
# `just run`: keyport on this machine with everything it needs, and a walkthrough to paste.
#
# Builds keyport and the LiteLLM double, takes a PostgreSQL from scripts/postgres.sh (database keyport_dev,
# migrated as the server's own role, served as keyport_serve: docs/security.md#database-roles; $DATABASE_URL
# is used as is when set), starts the double on a free port with a fresh master key (unless
# LITELLM_URL and LITELLM_MASTER_KEY are both set), migrates, syncs the catalog, issues a token for the admin
# `demo`, starts `keyport serve` (on KEYPORT_BIND, else 127.0.0.1:8080, else a free port) and prints the
# walkthrough. Ctrl-C stops what this script started; the throwaway PostgreSQL keeps running.
#
#   scripts/run.sh           run until Ctrl-C
#   scripts/run.sh --smoke   run the walkthrough once, check its answers, stop (exit code = result)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

smoke=""
case "${1:-}" in
  "") ;;
  --smoke) smoke=1 ;;
  *) die "usage: $0 [--smoke]" ;;
esac

run_dir="$KEYPORT_ROOT/.dev/run"
mkdir -p "$run_dir"

section "build"
# The web UI first: the server serves web-ui/dist at / (a debug build reads it from disk at run time).
"$KEYPORT_ROOT/scripts/web.sh" build || warn "the web UI did not build; / shows a placeholder page"
cargo build -p keyport-server -p keyport-litellm-double --bins
bin="$(target_dir)/debug"
keyport="$bin/keyport"

pids=()
names=()
# shellcheck disable=SC2317 # called by the EXIT trap
stop_all() {
  local i
  ((${#pids[@]})) || return 0
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" "${names[i]}"; done
  log "stopped ${names[*]}; PostgreSQL keeps running (\`just db-stop\` stops a throwaway one)"
  pids=() names=()
}
trap stop_all EXIT
trap 'exit 0' INT # Ctrl-C is how a run normally ends
trap 'exit 143' TERM

section "PostgreSQL"
if [[ -n "${DATABASE_URL:-}" ]]; then
  log "using DATABASE_URL as is"
else
  owner_url=$(ensure_database "$("$KEYPORT_ROOT/scripts/postgres.sh")" keyport_dev)
  # Two roles, as docs/security.md recommends: migrations as the server's own role (the tables' owner), and
  # everything else as keyport_serve, which owns nothing and may only read and append to the audit log.
  if serve_url=$(serve_role_url "$owner_url"); then
    export KEYPORT_MIGRATE_DATABASE_URL="$owner_url"
    DATABASE_URL=$serve_url
    log "keyport serves as $KEYPORT_SERVE_ROLE (member of keyport_app) and migrates as the database owner"
  else
    warn "could not create the serve role $KEYPORT_SERVE_ROLE; keyport runs as the database owner"
    DATABASE_URL=$owner_url
  fi
fi
export DATABASE_URL
log "database: $DATABASE_URL${KEYPORT_MIGRATE_DATABASE_URL:+ (migrations: $KEYPORT_MIGRATE_DATABASE_URL)}"

section "LiteLLM"
if [[ -n "${LITELLM_URL:-}" && -n "${LITELLM_MASTER_KEY:-}" ]]; then
  log "using the LiteLLM at $LITELLM_URL"
else
  LITELLM_MASTER_KEY=$(new_master_key)
  port=$(free_port)
  "$bin/litellm-double" --host 127.0.0.1 --port "$port" --master-key "$LITELLM_MASTER_KEY" --demo-models \
    >"$run_dir/litellm-double.log" 2>&1 &
  pid=$!
  pids+=("$pid") names+=(litellm-double)
  line=$(wait_for_line "$run_dir/litellm-double.log" 'listening on http://[^[:space:]]+' "$pid" 60) ||
    die "the LiteLLM double did not start (log: $run_dir/litellm-double.log)"
  LITELLM_URL=${line#listening on }
  log "LiteLLM double at $LITELLM_URL (log: $run_dir/litellm-double.log)"
fi
export LITELLM_URL LITELLM_MASTER_KEY
export KEYPORT_PUBLIC_LITELLM_URL="${KEYPORT_PUBLIC_LITELLM_URL:-$LITELLM_URL}"

section "keyport"
"$keyport" migrate
"$keyport" sync models
token=$("$keyport" admin create-token demo --create-user --admin)
[[ -n "$token" ]] || die "keyport admin create-token printed no token"

if [[ -z "${KEYPORT_BIND:-}" ]]; then
  if port_is_free 8080; then KEYPORT_BIND=127.0.0.1:8080; else KEYPORT_BIND="127.0.0.1:$(free_port)"; fi
fi
export KEYPORT_BIND
# A local run signs in with the development login (the UI shows a banner); KEYPORT_DEV_LOGIN=false turns it off.
# The development profile allows it (the production profile, keyport's default, refuses to start with it) and
# lets the session cookie work over plain-HTTP localhost.
export KEYPORT_DEV_LOGIN="${KEYPORT_DEV_LOGIN:-true}"
export KEYPORT_PROFILE="${KEYPORT_PROFILE:-development}"
rm -f "$run_dir/keyport.log" # an old log would be read before the new process truncates it
"$keyport" serve >"$run_dir/keyport.log" 2>&1 &
pid=$!
pids+=("$pid") names+=(keyport)
line=$(wait_for_line "$run_dir/keyport.log" 'keyport listening on http://[^[:space:]]+' "$pid" 120) ||
  die "keyport did not start (log: $run_dir/keyport.log)"
portal=${line#keyport listening on }

walkthrough="$run_dir/walkthrough.sh"
{
  echo "# keyport walkthrough: paste into bash or zsh (needs curl and python3)."
  printf 'PORTAL=%q\nTOKEN=%q\nLITELLM=%q\n' "$portal" "$token" "$KEYPORT_PUBLIC_LITELLM_URL"
  cat <<'EOF'
# pick EXPR: the Python expression EXPR over the JSON answer d; pretty: the answer indented
pick() { python3 -c "import json, sys; r = sys.stdin.read()
try: d = json.loads(r); print($1)
except Exception: sys.exit('unexpected answer: ' + r)"; }
pretty() { python3 -c 'import json, sys; r = sys.stdin.read(); print(json.dumps(json.loads(r), indent=2) if r.strip()[:1] in "[{" else r)'; }
# 1. The catalog: models you can subscribe to
curl -sS "$PORTAL/api/v1/models" -H "Authorization: Bearer $TOKEN" | pretty
# 2. Subscribe to gpt-4o-mini (201; 409 if an earlier run did), then take its id from your subscriptions
curl -sS "$PORTAL/api/v1/subscriptions" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"model_id": "gpt-4o-mini"}' | pretty
SUB_ID=$(curl -sS "$PORTAL/api/v1/subscriptions" -H "Authorization: Bearer $TOKEN" | pick 'next(s["id"] for s in d["items"] if s["model_id"] == "gpt-4o-mini")'); echo "subscription: $SUB_ID"
# 3. Create a key bound to that subscription (the secret is shown this once only)
KEY_JSON=$(curl -sS "$PORTAL/api/v1/api-keys" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d "{\"name\": \"my-first-key\", \"subscription_ids\": [\"$SUB_ID\"]}")
KEY_ID=$(printf '%s' "$KEY_JSON" | pick 'd["key"]["id"]'); SECRET=$(printf '%s' "$KEY_JSON" | pick 'd["secret"]'); echo "key $KEY_ID: $SECRET"
# 4. List my keys, newest first, a page at a time ({"items", "next_cursor"}; ?limit=1..200, ?cursor=, ?status=active);
#    keyport keeps only a hash and a prefix of each secret
curl -sS "$PORTAL/api/v1/api-keys?limit=10" -H "Authorization: Bearer $TOKEN" | pretty
# 5. Call the model through LiteLLM with the new key
curl -sS "$LITELLM/v1/chat/completions" -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/json' -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]}' -w '\n[chat] HTTP %{http_code}\n'
# 5b. The key calls models only: LiteLLM refuses it its admin API (403), so it cannot mint a key of its own
curl -sS "$LITELLM/key/generate" -X POST -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/json' -d '{}' -w '\n[mint a key] HTTP %{http_code}\n'
# 6. Revoke the key (this also frees its name for the next run)
curl -sS -X DELETE "$PORTAL/api/v1/api-keys/$KEY_ID" -H "Authorization: Bearer $TOKEN" -w '\n[revoke] HTTP %{http_code}\n'
# 7. The same call again: 401 now
sleep 1; curl -sS "$LITELLM/v1/chat/completions" -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/json' -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello again!"}]}' -w '\n[chat after revoke] HTTP %{http_code}\n'
EOF
} >"$walkthrough"

if [[ -n "$smoke" ]]; then
  section "walkthrough (smoke)"
  out=$(bash "$walkthrough" 2>&1) || true
  printf '%s\n' "$out"
  codes=$(grep -oE '^\[[a-z ]+\] HTTP [0-9]+' <<<"$out" | tr '\n' ';' || true)
  expected='^\[chat\] HTTP 200;\[mint a key\] HTTP 403;\[revoke\] HTTP 20[04];\[chat after revoke\] HTTP 401;$'
  [[ "$codes" =~ $expected ]] ||
    die "walkthrough answers were not 200, 403, 200/204, 401: $codes (logs in $run_dir)"
  log "walkthrough OK: $codes"
  exit 0
fi

section "keyport is running"
cat <<EOF

  Portal:     $portal          (web UI; API docs: $portal/api/docs)
  Sign in:    development login: any username; role "admin" for the admin console, "user" for a plain user
  LiteLLM:    $KEYPORT_PUBLIC_LITELLM_URL
  Admin user: demo
  Token:      $token
  Database:   $DATABASE_URL${KEYPORT_MIGRATE_DATABASE_URL:+
  Migrations: $KEYPORT_MIGRATE_DATABASE_URL}
  Logs:       $run_dir/keyport.log, $run_dir/litellm-double.log

Paste this into another terminal (also saved as $walkthrough):

EOF
cat "$walkthrough"
echo
echo "Ctrl-C stops keyport and the LiteLLM double; PostgreSQL keeps running (\`just db-stop\`)."

set +e
wait -n "${pids[@]}"
status=$?
warn "a process exited by itself (status $status); see the logs in $run_dir"
exit "$status"
