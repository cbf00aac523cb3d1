#!/usr/bin/env bash
# `just soak`: mixed traffic for a while at about half of keyport's measured capacity; no errors, flat memory.
#
#   scripts/soak.sh                      10 minutes at half the capacity a 20 s probe measures
#   scripts/soak.sh --minutes 2          a shorter run
#   scripts/soak.sh --rate 150           skip the probe and send 150 requests/s
#
# Builds keyport and the LiteLLM double in release, makes a fresh database keyport_soak_<pid> on the server
# of scripts/postgres.sh (dropped at the end), starts the double and `keyport serve` (development profile with
# the development login on, loopback only, KEYPORT_LOG=warn or KEYPORT_SOAK_LOG, no login rate limit, up to
# 1000 live keys a user) and issues tokens for KEYPORT_SOAK_USERS members (default 16). scripts/soak.py then
# subscribes each member to gpt-4o-mini, gives each 10 keys, measures the capacity (closed loop,
# KEYPORT_SOAK_WORKERS concurrent clients, default 32, 5 s warm-up and 20 s measured) and sends the mix at half
# of it, open loop, printing a row every 30 s: requests, errors, p50/p99 latency, keyport's resident memory.
# The mix, the rules and the memory check are described in docs/performance.md ("Soak"). The table is written
# to .dev/soak/result.md, logs beside it.
# Exit code: 0 when there was no error and the memory stayed flat.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

minutes=10
rate=""
while (($#)); do
  case "$1" in
    --minutes) minutes=${2:?--minutes needs a value}; shift 2 ;;
    --rate) rate=${2:?--rate needs a value}; shift 2 ;;
    *) die "usage: $0 [--minutes N] [--rate REQUESTS_PER_SECOND]" ;;
  esac
done
[[ "$minutes" =~ ^[1-9][0-9]*$ ]] || die "--minutes takes a whole number of minutes, at least 1"
[[ -z "$rate" || "$rate" =~ ^[1-9][0-9]*$ ]] || die "--rate takes a whole number of requests per second"
users=${KEYPORT_SOAK_USERS:-16}
workers=${KEYPORT_SOAK_WORKERS:-32}
[[ "$users" =~ ^[1-9][0-9]*$ && "$workers" =~ ^[1-9][0-9]*$ ]] ||
  die "KEYPORT_SOAK_USERS and KEYPORT_SOAK_WORKERS take whole numbers"

out="$KEYPORT_ROOT/.dev/soak"
rm -rf "$out"
mkdir -p "$out"

section "build (release)"
cargo build --release -p keyport-server -p keyport-litellm-double --bins
bin="$(target_dir)/release"

pids=()
database=""
server=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  pids=()
  if [[ -n "$database" ]]; then
    "$(psql_bin)" -q -X "$(url_with_database "$server" postgres)" -c "SET client_min_messages = warning" \
      -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || warn "could not drop $database"
  fi
  rm -f "$out/tokens"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

section "PostgreSQL"
server=$("$KEYPORT_ROOT/scripts/postgres.sh")
database="keyport_soak_$$"
database_url=$(ensure_database "$server" "$database" fresh)
log "fresh database: $database_url (dropped at the end)"

section "LiteLLM double and keyport"
start_litellm_double "$bin" "$out/litellm-double.log" ||
  die "the LiteLLM double did not start (log: $out/litellm-double.log)"
export DATABASE_URL=$database_url LITELLM_URL LITELLM_MASTER_KEY
# The development login needs the development profile and a loopback address (start_keyport_serve binds
# 127.0.0.1). Logins are part of the mix, so their per-address limit is off; the live-key cap is raised so
# that it never refuses a create (the driver keeps each member between 5 and 20 keys anyway).
start_keyport_serve "$bin" "$out/keyport.log" -u KEYPORT_PUBLIC_LITELLM_URL -u KEYPORT_PUBLIC_URL \
  -u KEYPORT_OIDC_ISSUER KEYPORT_PROFILE=development KEYPORT_DEV_LOGIN=true KEYPORT_LOGIN_RATE_PER_MINUTE=0 \
  KEYPORT_MAX_LIVE_KEYS_PER_USER=1000 KEYPORT_LOG="${KEYPORT_SOAK_LOG:-warn}" ||
  die "keyport did not start (log: $out/keyport.log)"
log "keyport at $portal (pid $keyport_pid), LiteLLM double at $LITELLM_URL (pid $double_pid)"

section "setup: $users members with a token each"
(umask 077 && : >"$out/tokens")
for i in $(seq 1 "$users"); do
  token=$("$bin/keyport" admin create-token "soak-$i" --create-user) ||
    die "keyport admin create-token failed"
  [[ -n "$token" ]] || die "keyport admin create-token printed no token"
  printf '%s\n' "$token" >>"$out/tokens"
done

section "soak: ${minutes} min${rate:+ at $rate requests/s}"
machine="$(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), \
$(awk '/^MemTotal/ { printf "%\047d MB", $2 / 1024 }' /proc/meminfo) RAM"
pg="$("$(psql_bin)" -X -At "$server" -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ' at ' ||
  coalesce(host(inet_server_addr()), 'local socket') || ':' || current_setting('port') || ', fsync ' ||
  current_setting('fsync')")"
status=0
python3 "$KEYPORT_ROOT/scripts/soak.py" --base "$portal" --tokens "$out/tokens" --pid "$keyport_pid" \
  --double-pid "$double_pid" --minutes "$minutes" ${rate:+--rate "$rate"} --workers "$workers" \
  --out "$out/result.md" \
  --describe "keyport $(git describe --always --dirty 2>/dev/null || echo unknown), release build; $machine; $pg" ||
  status=$?

kill -0 "$keyport_pid" 2>/dev/null || { warn "keyport exited during the soak (log: $out/keyport.log)"; status=1; }
# What keyport logged at WARN or above once it listened (the start warns about the development login and the
# database role on purpose): not an error of the soak, but worth reading.
sed -e 's/\x1b\[[0-9;]*m//g' -e '1,/keyport listening on/d' "$out/keyport.log" | grep -E '^[^ ]+ +(WARN|ERROR) ' \
  >"$out/keyport-warnings.log" || true
if [[ -s "$out/keyport-warnings.log" ]]; then
  warn "keyport logged $(wc -l <"$out/keyport-warnings.log") warnings or errors during the soak (the first below;" \
    "all in $out/keyport-warnings.log)"
  head -n 10 "$out/keyport-warnings.log" >&2
  printf '\nkeyport logged %s lines at WARN or ERROR during the run (their messages, counted):\n\n' \
    "$(wc -l <"$out/keyport-warnings.log")" >>"$out/result.md"
  sed -E 's/^[^ ]+ +//' "$out/keyport-warnings.log" | sed -E 's/ [a-z_]+=.*$//' | sort | uniq -c | sort -rn |
    awk '{ n = $1; $1 = ""; printf "- %d ×%s\n", n, $0 }' >>"$out/result.md"
else
  printf '\nkeyport logged nothing at WARN or ERROR during the run.\n' >>"$out/result.md"
fi
log "table: $out/result.md; logs: $out/keyport.log, $out/litellm-double.log"
exit "$status"
