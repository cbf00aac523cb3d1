#!/usr/bin/env bash
# `just bench`: the throughput and memory numbers of docs/performance.md#targets, measured with wrk on this
# machine.
#
# Builds keyport and the LiteLLM double in release, re-creates the database keyport_bench on the server that
# scripts/postgres.sh gives, starts the double and `keyport serve` on 127.0.0.1, creates a user, subscribes
# it to gpt-4o-mini and creates 20 keys through the API, then runs
#   list my keys   GET  /api/v1/api-keys   64 connections, 2 threads
#   create a key   POST /api/v1/api-keys   32 connections, 2 threads, a unique name per request, spread over
#                  64 users (a user holds at most 1000 live keys)
# for KEYPORT_BENCH_DURATION seconds each (default 20), and prints a Markdown summary with requests/s, p50,
# p99 and the server's resident memory idle (before load) and at its peak. Raw output: .dev/bench/.
# Nothing is written to docs/; copy the summary into docs/performance.md by hand.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

duration=${KEYPORT_BENCH_DURATION:-20}
[[ "$duration" =~ ^[1-9][0-9]*$ ]] || die "KEYPORT_BENCH_DURATION must be a whole number of seconds"
model=gpt-4o-mini
out="$KEYPORT_ROOT/.dev/bench"
rm -rf "$out"
mkdir -p "$out"

ensure_wrk
ensure_curl

section "build (release)"
cargo build --release -p keyport-server -p keyport-litellm-double --bins
bin="$(target_dir)/release"

pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

section "PostgreSQL"
server=$("$KEYPORT_ROOT/scripts/postgres.sh")
database_url=$(ensure_database "$server" keyport_bench fresh)
log "fresh database: $database_url"

section "LiteLLM double and keyport"
start_litellm_double "$bin" "$out/litellm-double.log" || die "the LiteLLM double did not start"
litellm_url=$LITELLM_URL
master_key=$LITELLM_MASTER_KEY
start_keyport_serve "$bin" "$out/keyport.log" -u KEYPORT_PUBLIC_LITELLM_URL \
  DATABASE_URL="$database_url" LITELLM_URL="$litellm_url" LITELLM_MASTER_KEY="$master_key" \
  KEYPORT_LOG="${KEYPORT_BENCH_LOG:-warn}" KEYPORT_MAX_LIVE_KEYS_PER_USER=1000 || die "keyport did not start"
server_pid=$keyport_pid
log "keyport at $portal (pid $server_pid), LiteLLM double at $litellm_url"

section "setup: a user, a subscription, 20 keys"
token=$(DATABASE_URL="$database_url" LITELLM_URL="$litellm_url" LITELLM_MASTER_KEY="$master_key" \
  "$bin/keyport" admin create-user bench-user)
[[ -n "$token" ]] || die "keyport admin create-user printed no token"

# api METHOD PATH [JSON]: call the API as the bench user, print the body, fail unless the status is 2xx.
api() {
  local code
  code=$(curl -sS -o "$out/last-response.json" -w '%{http_code}' -X "$1" "$portal$2" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' ${3:+-d "$3"})
  [[ "$code" == 2* ]] || { warn "$1 $2 answered $code:"; cat "$out/last-response.json" >&2; return 1; }
  cat "$out/last-response.json"
}
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

subscription_id=$(api POST /api/v1/subscriptions "{\"model_id\": \"$model\"}" | json_field id)
for i in $(seq 1 20); do
  api POST /api/v1/api-keys "{\"name\": \"seed-$i\", \"subscription_ids\": [\"$subscription_id\"]}" >/dev/null
done
listed=$(api GET /api/v1/api-keys | python3 -c '
import json, sys
d = json.load(sys.stdin)
if isinstance(d, dict):
    d = next((v for k, v in d.items() if isinstance(v, list)), [])
print(len(d))')
[[ "$listed" == 20 ]] || warn "GET /api/v1/api-keys lists $listed keys, expected 20"
log "subscription $subscription_id, $listed keys"

# An experiment's change to the database before the load, e.g. KEYPORT_BENCH_SQL='DROP INDEX …' to measure
# what an index costs (see docs/performance.md).
if [[ -n "${KEYPORT_BENCH_SQL:-}" ]]; then
  log "before the load: $KEYPORT_BENCH_SQL"
  psql -X -q -v ON_ERROR_STOP=1 "$database_url" -c "$KEYPORT_BENCH_SQL" >&2 || die "KEYPORT_BENCH_SQL failed"
fi

rss_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$server_pid/status"; }
sleep 2
idle_rss=$(rss_kb VmRSS)
log "idle RSS: $idle_rss kB"

# The creates are spread over 64 users: one user may hold at most 1000 live keys (the highest cap), and a
# 30 s run at the target rate makes about 24,000.
creators=()
for i in $(seq 1 64); do
  creator_token=$(DATABASE_URL="$database_url" LITELLM_URL="$litellm_url" LITELLM_MASTER_KEY="$master_key" \
    "$bin/keyport" admin create-user "bench-creator-$i" 2>/dev/null)
  creator_sub=$(curl -sS "$portal/api/v1/subscriptions" -H "Authorization: Bearer $creator_token" \
    -H 'Content-Type: application/json' -d "{\"model_id\": \"$model\"}" | json_field id)
  creators+=("$creator_token:$creator_sub")
done
log "${#creators[@]} users to create keys with"

cat >"$out/create-key.lua" <<'EOF'
-- POST /api/v1/api-keys with a name unique to each request (bench-<thread>-<counter>), for each of the
-- creators (token:subscription, comma-separated in KEYPORT_BENCH_CREATORS) in turn.
local creators = {}
for pair in string.gmatch(os.getenv("KEYPORT_BENCH_CREATORS"), "[^,]+") do
  local token, subscription = string.match(pair, "([^:]+):(.+)")
  table.insert(creators, { token = token, subscription = subscription })
end
local threads = 0
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end
local counter = 0
function request()
  counter = counter + 1
  local creator = creators[(counter % #creators) + 1]
  local headers = { ["Authorization"] = "Bearer " .. creator.token, ["Content-Type"] = "application/json" }
  local body = string.format('{"name": "bench-%d-%d", "subscription_ids": ["%s"]}', thread_id, counter, creator.subscription)
  return wrk.format("POST", "/api/v1/api-keys", headers, body)
end
EOF

# Each wrk run is bounded: its duration, plus a margin for a server that stops answering.
run_wrk() { timeout --signal=INT --kill-after=10 $((duration + 60)) wrk "$@"; }

section "list my keys: 64 connections, ${duration} s (after a 3 s warm-up)"
run_wrk -t2 -c64 -d3s -H "Authorization: Bearer $token" "$portal/api/v1/api-keys" >/dev/null
run_wrk -t2 -c64 -d"${duration}s" --latency -H "Authorization: Bearer $token" "$portal/api/v1/api-keys" |
  tee "$out/list-keys.txt"

section "create a key: 32 connections, ${duration} s"
KEYPORT_BENCH_CREATORS=$(IFS=,; echo "${creators[*]}") \
  run_wrk -t2 -c32 -d"${duration}s" --latency -s "$out/create-key.lua" "$portal" | tee "$out/create-key.txt"

kill -0 "$server_pid" 2>/dev/null || die "keyport exited during the benchmark (log: $out/keyport.log)"
peak_rss=$(rss_kb VmHWM)
after_rss=$(rss_kb VmRSS)

section "summary"
python3 - "$out" "$duration" "$idle_rss" "$peak_rss" "$after_rss" "$(nproc)" \
  "$("$(psql_bin)" -X -At "$server" -c "SELECT current_setting('server_version') || ' at ' ||
    coalesce(host(inet_server_addr()), 'local socket') || ':' || current_setting('port') || ', fsync ' || current_setting('fsync')")" "$(git describe --always --dirty 2>/dev/null || echo unknown)" <<'EOF' | tee "$out/summary.md"
import re, sys, time
out, duration, idle, peak, after, cores, pg, rev = sys.argv[1:]

def wrk(name):
    text = open(f"{out}/{name}.txt").read()
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)\s*$", text, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    return {
        "rps": float(rps.group(1)) if rps else None,
        "p50": lat.get("50"), "p99": lat.get("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(1).strip() if errors else "none",
    }

def ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v or "")
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)] if m else None

def mark(ok):
    return "n/a" if ok is None else ("met" if ok else "MISSED")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
lst, cre = wrk("list-keys"), wrk("create-key")
mb = lambda kb: f"{int(kb) / 1024:.1f} MB" if kb else "?"
rps = lambda r: f"{r['rps']:,.0f}" if r["rps"] is not None else "?"

list_ok = None if lst["rps"] is None or ms(lst["p99"]) is None else (lst["rps"] >= 4500 and ms(lst["p99"]) < 25 and lst["non2xx"] == 0)
create_ok = None if cre["rps"] is None else (cre["rps"] >= 800 and cre["non2xx"] == 0)
idle_ok = None if not idle else int(idle) < 30 * 1024

print(f"""
### {time.strftime('%Y-%m-%d')}, keyport {rev}

Machine: {cores} cores ({cpu}), {mem:,} MB RAM; wrk on the same machine; PostgreSQL {pg}.
Command: `just bench` ({duration} s per scenario).

| Scenario | Connections | Requests/s | p50 | p99 | Non-2xx | Socket errors | Target | |
|---|---|---|---|---|---|---|---|---|
| List my keys (20 keys) | 64 | {rps(lst)} | {lst['p50']} | {lst['p99']} | {lst['non2xx']} | {lst['errors']} | ≥ 4,500/s, p99 < 25 ms | {mark(list_ok)} |
| Create a key | 32 | {rps(cre)} | {cre['p50']} | {cre['p99']} | {cre['non2xx']} | {cre['errors']} | ≥ 800/s | {mark(create_ok)} |

| keyport memory | Resident | Target | |
|---|---|---|---|
| Idle (after start and setup, before load) | {mb(idle)} | < 30 MB | {mark(idle_ok)} |
| Peak (VmHWM, after both runs) | {mb(peak)} | | |
| After both runs | {mb(after)} | | |
""")
EOF
log "raw output and logs: $out"
