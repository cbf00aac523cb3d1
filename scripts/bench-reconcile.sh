#!/usr/bin/env bash
# `just bench-reconcile`: one reconcile pass over 100,000 keys against the LiteLLM double
# (docs/performance.md#reconcile: under 60 s, LiteLLM calls growing with pages, not keys), measured on this
# machine.
#
# Builds keyport and the LiteLLM double in release, re-creates the database keyport_bench_reconcile on the
# server that scripts/postgres.sh gives (which must be local), runs `keyport migrate`, and seeds with SQL
# (generate_series, sha256) 10 users, one model, their subscriptions and KEYPORT_BENCH_RECONCILE_KEYS active
# keys (default 100000) with their links, plus a sprinkle of disagreements, D of each kind
# (KEYPORT_BENCH_RECONCILE_DISAGREEMENTS, default 100):
#   D drifted keys      LiteLLM holds another max_budget, model list or rpm_limit
#   D missing keys      active in keyport, absent from LiteLLM (confirmed by /key/info, then marked lost)
#   D orphans           only in LiteLLM, tagged managed_by: keyport (deleted)
#   5 stale rows        provisioning for an hour, 3 of them present in LiteLLM (deleted there, failed here)
#   20 dead keys        revoked in keyport, still in LiteLLM (deleted)
#   1,000 revoked keys  gone from LiteLLM as they should be (history the paging reads past)
#   10 foreign keys     in LiteLLM without keyport's tag (left alone)
# The double is seeded from the same rows (`litellm-double --seed-keys`, JSON lines exported by PostgreSQL:
# same hashes, aliases, owners, models and limits), then `keyport reconcile` runs three times: --dry-run, the
# real pass, and a --dry-run check that must find nothing. Each pass is timed (wall clock) with its peak RSS
# and CPU (/usr/bin/time), the LiteLLM calls it reports, the HTTP requests it logged (by path, with the time
# spent waiting for the double), the PostgreSQL time (pg_stat_database.active_time) and the double's CPU.
# Prints a Markdown summary; raw output in .dev/bench-reconcile/. Nothing is written to docs/.
#
# Environment: KEYPORT_BENCH_RECONCILE_KEYS (100000), KEYPORT_BENCH_RECONCILE_DISAGREEMENTS (100),
# KEYPORT_BENCH_RECONCILE_ORDER (spread: the disagreements scattered over LiteLLM's pages; newest: all on the
# first pages), KEYPORT_BENCH_RECONCILE_TIMEOUT (600 s per pass), KEYPORT_BENCH_LOG (keyport's log filter, info).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

keys=${KEYPORT_BENCH_RECONCILE_KEYS:-100000}
disagreements=${KEYPORT_BENCH_RECONCILE_DISAGREEMENTS:-100}
pass_timeout=${KEYPORT_BENCH_RECONCILE_TIMEOUT:-600}
order=${KEYPORT_BENCH_RECONCILE_ORDER:-spread}
[[ "$order" == spread || "$order" == newest ]] || die "KEYPORT_BENCH_RECONCILE_ORDER must be spread or newest"
[[ "$keys" =~ ^[1-9][0-9]*$ ]] || die "KEYPORT_BENCH_RECONCILE_KEYS must be a positive whole number"
[[ "$disagreements" =~ ^[1-9][0-9]*$ ]] || die "KEYPORT_BENCH_RECONCILE_DISAGREEMENTS must be a positive whole number"
[[ "$pass_timeout" =~ ^[1-9][0-9]*$ ]] || die "KEYPORT_BENCH_RECONCILE_TIMEOUT must be a whole number of seconds"
((keys / disagreements >= 3)) || die "need at least 3 keys per disagreement ($keys keys, $disagreements disagreements)"
users=10
database=keyport_bench_reconcile
out="$KEYPORT_ROOT/.dev/bench-reconcile"
rm -rf "$out"
mkdir -p "$out"

[[ -x /usr/bin/time ]] || apt_install time
[[ -x /usr/bin/time ]] || die "GNU time (/usr/bin/time) is needed for the peak memory"

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
host=$(python3 -c 'import sys, urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "")' "$server")
case "$host" in
  127.0.0.1 | localhost | ::1 | "") ;;
  *) die "the benchmark only talks to 127.0.0.1; scripts/postgres.sh gave a server on $host" ;;
esac
database_url=$(ensure_database "$server" "$database" fresh)
psql=$(psql_bin)
sql() { timeout --kill-after=10 600 "$psql" -X -q -v ON_ERROR_STOP=1 "$database_url" "$@"; }
log "fresh database: $database_url"
DATABASE_URL="$database_url" timeout 120 "$bin/keyport" migrate

section "seed keyport: $keys keys, $disagreements of each disagreement"
seed_started=$SECONDS
sql -v n="$keys" -v d="$disagreements" -v users="$users" <<'EOF'
SET client_min_messages = warning;
BEGIN;
INSERT INTO models (id, provider, display_name, capabilities, context_window)
VALUES ('gpt-4o-mini', 'openai', 'GPT-4o mini', '{chat}', 128000),
       ('claude-3-5-sonnet', 'anthropic', 'Claude 3.5 Sonnet', '{chat}', 200000);
INSERT INTO users (id, username, display_name, email, created_at)
SELECT gen_random_uuid(), 'bench-user-' || u, 'Bench user ' || u, 'bench-' || u || '@example.org',
       now() - interval '60 days'
FROM generate_series(0, :users - 1) AS u;
INSERT INTO subscriptions (id, user_id, model_id, status, created_at)
SELECT gen_random_uuid(), id, 'gpt-4o-mini', 'active', now() - interval '60 days' FROM users;

-- The plan: one row per key on either side. i = 1..n are the active keys: every (n/d)-th drifted (i ≡ 1) or
-- missing from LiteLLM (i ≡ 2); past n, the other kinds. The raw key of key i is its prefix and i on 8 digits;
-- its hash is LiteLLM's token, sha256 hex.
CREATE SCHEMA bench;
CREATE TABLE bench.plan AS
WITH kinds AS (
    SELECT i, CASE i % (:n / :d) WHEN 1 THEN 'drift' WHEN 2 THEN 'missing' ELSE 'in_sync' END AS kind,
           'sk-kp-bench' AS prefix
    FROM generate_series(1, :n) AS i
    UNION ALL SELECT :n + i, CASE WHEN i <= 3 THEN 'stale_present' ELSE 'stale_absent' END, 'sk-kp-stale'
    FROM generate_series(1, 5) AS i
    UNION ALL SELECT :n + 5 + i, 'dead_present', 'sk-kp-dead' FROM generate_series(1, 20) AS i
    UNION ALL SELECT :n + 25 + i, 'dead_gone', 'sk-kp-gone' FROM generate_series(1, 1000) AS i
    UNION ALL SELECT :n + 1025 + i, 'orphan', 'sk-kp-orphan' FROM generate_series(1, :d) AS i
    UNION ALL SELECT :n + 1025 + :d + i, 'foreign', 'sk-foreign' FROM generate_series(1, 10) AS i
)
SELECT k.i, k.kind, gen_random_uuid() AS id, u.id AS user_id, s.id AS subscription_id,
       encode(sha256(convert_to(k.prefix || lpad(k.i::text, 8, '0'), 'UTF8')), 'hex') AS key_hash,
       left(k.prefix || lpad(k.i::text, 8, '0'), 12) AS key_prefix,
       CASE k.i % 4 WHEN 0 THEN NULL WHEN 1 THEN 25 WHEN 2 THEN 10 ELSE 50 END::numeric AS max_budget,
       CASE k.i % 4 WHEN 1 THEN '30d' WHEN 3 THEN '1mo' END AS budget_duration,
       CASE WHEN k.i % 3 = 0 THEN 100000 END::bigint AS tpm_limit,
       CASE WHEN k.i % 3 = 0 THEN 600 END::bigint AS rpm_limit,
       CASE WHEN k.i % 10 = 0 THEN date_trunc('second', now()) + interval '90 days' END AS expires_at,
       round((k.i % 97) * 0.0137, 4) AS spend,
       CASE WHEN k.kind LIKE 'stale%' THEN now() - interval '1 hour'
            ELSE now() - interval '30 days' + (k.i % :n) * (interval '20 days' / :n) END AS created_at
FROM kinds AS k
JOIN users AS u ON u.username = 'bench-user-' || (k.i % :users)
JOIN subscriptions AS s ON s.user_id = u.id;
CREATE INDEX ON bench.plan (kind);

INSERT INTO api_keys (id, user_id, name, key_prefix, key_hash, litellm_alias, status, max_budget,
                      budget_duration, tpm_limit, rpm_limit, expires_at, spend, spend_read_at, sync_state,
                      synced_at, created_at, updated_at, revoked_at)
SELECT id, user_id, 'bench-key-' || i, key_prefix, key_hash, 'keyport-' || id,
       CASE WHEN kind LIKE 'stale%' THEN 'provisioning' WHEN kind LIKE 'dead%' THEN 'revoked' ELSE 'active' END,
       max_budget, budget_duration, tpm_limit, rpm_limit, expires_at,
       CASE WHEN kind LIKE 'stale%' THEN NULL ELSE 0 END,
       CASE WHEN kind LIKE 'stale%' THEN NULL ELSE now() - interval '10 minutes' END,
       CASE WHEN kind LIKE 'stale%' THEN 'pending' ELSE 'synced' END,
       CASE WHEN kind LIKE 'stale%' THEN NULL ELSE created_at END,
       created_at, created_at,
       CASE WHEN kind LIKE 'dead%' THEN created_at + interval '1 day' END
FROM bench.plan
WHERE kind NOT IN ('orphan', 'foreign');
INSERT INTO api_key_subscriptions (api_key_id, subscription_id, user_id)
SELECT id, subscription_id, user_id FROM bench.plan WHERE kind NOT IN ('orphan', 'foreign');
COMMIT;
VACUUM ANALYZE;
EOF
seed_sql_s=$((SECONDS - seed_started))

# What LiteLLM holds, one SeedKey per line: keyport's rows as keyport created them (drifted ones changed),
# orphans and foreign keys. The double lists the last line first; in hash order the disagreements are spread
# over the pages, in "newest" order they come first.
export_started=$SECONDS
sql -At -o "$out/litellm-keys.jsonl" -v n="$keys" -v d="$disagreements" -v order="$order" <<'EOF'
\set FETCH_COUNT 10000
SELECT json_strip_nulls(json_build_object(
    'key_hash', p.key_hash,
    'alias', CASE WHEN p.kind = 'foreign' THEN 'data-science-' || p.i ELSE 'keyport-' || p.id END,
    'user_id', CASE WHEN p.kind <> 'foreign' THEN p.user_id::text END,
    'models', CASE WHEN p.kind = 'drift' AND p.i / (:n / :d) % 3 = 1
                   THEN ARRAY['gpt-4o-mini', 'claude-3-5-sonnet'] ELSE ARRAY['gpt-4o-mini'] END,
    'metadata', CASE WHEN p.kind = 'foreign' THEN json_build_object('team', 'data-science')
                     ELSE json_build_object('managed_by', 'keyport', 'keyport_key_id', p.id,
                                            'keyport_user_id', p.user_id,
                                            'keyport_subscription_ids', json_build_array(p.subscription_id)) END,
    'max_budget', CASE WHEN p.kind = 'drift' AND p.i / (:n / :d) % 3 = 0 THEN 999 ELSE p.max_budget END,
    'budget_duration', p.budget_duration,
    'tpm_limit', p.tpm_limit,
    'rpm_limit', CASE WHEN p.kind = 'drift' AND p.i / (:n / :d) % 3 = 2 THEN 1 ELSE p.rpm_limit END,
    'expires', p.expires_at,
    'spend', p.spend))
FROM bench.plan AS p
WHERE p.kind NOT IN ('missing', 'stale_absent', 'dead_gone')
ORDER BY CASE WHEN :'order' = 'newest' THEN lpad(p.i::text, 12, '0') ELSE p.key_hash END COLLATE "C", p.i;
EOF
export_s=$((SECONDS - export_started))
litellm_keys=$(wc -l <"$out/litellm-keys.jsonl")
sql -At -c "SELECT kind, count(*) FROM bench.plan GROUP BY kind ORDER BY kind" >"$out/plan.txt"
log "keyport seeded in ${seed_sql_s} s; $litellm_keys LiteLLM keys exported in ${export_s} s ($(du -h "$out/litellm-keys.jsonl" | cut -f1))"

section "LiteLLM double, seeded"
master_key=$(new_master_key)
rss_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# start_double LOG [ARGS...]: start a double on a free port; sets double_pid and double_url.
start_double() {
  local log_file=$1 line
  shift
  "$bin/litellm-double" --host 127.0.0.1 --port 0 --master-key "$master_key" --demo-models "$@" \
    >"$log_file" 2>&1 &
  double_pid=$!
  pids+=("$double_pid")
  line=$(wait_for_line "$log_file" 'listening on http://[^[:space:]]+' "$double_pid" 180) ||
    die "the LiteLLM double did not start (log: $log_file)"
  double_url=${line#listening on }
}
# An empty double first, for the baseline of the double's memory.
start_double "$out/litellm-double-empty.log"
sleep 1
empty_rss=$(rss_kb "$double_pid" VmRSS)
stop_pid "$double_pid" litellm-double
unset 'pids[-1]'
start_double "$out/litellm-double.log" --seed-keys "$out/litellm-keys.jsonl"
litellm_url=$double_url
seeded_line=$(grep -m1 -oE 'seeded [0-9]+ keys from .* in [0-9]+ ms' "$out/litellm-double.log" || true)
double_seed_ms=${seeded_line##* in }
double_seed_ms=${double_seed_ms% ms}
seeded_rss=$(rss_kb "$double_pid" VmRSS)
log "double at $litellm_url (pid $double_pid): $seeded_line; RSS ${seeded_rss} kB (empty: ${empty_rss} kB)"

# run_pass NAME [ARGS...]: one `keyport reconcile`, bounded, under /usr/bin/time; writes NAME.* in $out.
pg_stats() {
  "$psql" -X -At "$database_url" -c "SELECT coalesce(active_time, 0)::bigint || ' ' || xact_commit
    FROM pg_stat_database WHERE datname = current_database()"
}
run_pass() {
  local name=$1 pg_before pg_after cpu_before cpu_after status=0
  shift
  section "keyport reconcile $* ($name)"
  pg_before=$(pg_stats)
  cpu_before=$(cpu_ticks "$double_pid")
  cut -d' ' -f1 /proc/loadavg >"$out/$name.load"
  awk -v n="$(nproc)" '$1 > n / 2 { exit 1 }' /proc/loadavg ||
    warn "load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores: other work competes with the benchmark"
  DATABASE_URL="$database_url" LITELLM_URL="$litellm_url" LITELLM_MASTER_KEY="$master_key" \
    KEYPORT_LOG="${KEYPORT_BENCH_LOG:-info}" KEYPORT_LOG_FORMAT=json \
    timeout --kill-after=10 "$pass_timeout" /usr/bin/time -f '%e %M %U %S' -o "$out/$name.time" \
    "$bin/keyport" reconcile "$@" >"$out/$name.out" 2>"$out/$name.log" || status=$?
  ((status == 0)) || { tail -n 20 "$out/$name.log" >&2; die "keyport reconcile $* failed ($status)"; }
  kill -0 "$double_pid" 2>/dev/null || die "the LiteLLM double exited during the pass"
  cpu_after=$(cpu_ticks "$double_pid")
  sleep 1 # the backends' statistics reach pg_stat_database when they exit
  pg_after=$(pg_stats)
  printf '%s %s %s %s\n' "$pg_before" "$pg_after" "$cpu_before" "$cpu_after" >"$out/$name.stats"
  cut -d' ' -f1 /proc/loadavg >>"$out/$name.load"
  sql -At -c "SELECT status, count(*) FROM api_keys GROUP BY status ORDER BY status" >"$out/$name.statuses"
  head -n 8 "$out/$name.out" >&2
  log "$name: $(cat "$out/$name.time") (wall s, max RSS kB, user s, sys s)"
}
run_pass dry-run --dry-run
run_pass real
run_pass check --dry-run
double_peak=$(rss_kb "$double_pid" VmHWM)

section "summary"
python3 - "$out" "$keys" "$litellm_keys" "$seed_sql_s" "$export_s" "${double_seed_ms:-?}" "$empty_rss" \
  "$seeded_rss" "$double_peak" "$(nproc)" "$(getconf CLK_TCK)" \
  "$("$psql" -X -At "$server" -c "SELECT current_setting('server_version') || ' at ' ||
    coalesce(host(inet_server_addr()), 'local socket') || ':' || current_setting('port') || ', fsync ' ||
    current_setting('fsync')")" "$(git describe --always --dirty 2>/dev/null || echo unknown)" "$order" <<'EOF' | tee "$out/summary.md"
import collections, json, re, sys, time
(out, keys, litellm_keys, seed_sql, export, double_seed_ms, empty_rss, seeded_rss, double_peak, cores, tck,
 pg, rev, order) = sys.argv[1:]
keys, litellm_keys, tck = int(keys), int(litellm_keys), int(tck)
KINDS = ["orphan", "stale provisioning", "dead key present", "drift", "missing"]

def load(name):
    text = open(f"{out}/{name}.out").read()
    head = re.search(r"(\d+) LiteLLM keys in (\d+) pages, (\d+) live keyport rows, (\d+) LiteLLM calls, "
                     r"spend recorded for (\d+) keys", text)
    findings = {k: tuple(map(int, m.groups())) for k in KINDS
                if (m := re.search(rf"^{k}\s+(\d+)\s+(\d+)\s*$", text, re.M))}
    wall, rss, user, sys_ = open(f"{out}/{name}.time").read().split()[-4:]
    pg0, commits0, pg1, commits1, cpu0, cpu1 = map(int, open(f"{out}/{name}.stats").read().split())
    requests, waited = collections.Counter(), collections.Counter()
    for line in open(f"{out}/{name}.log"):
        try:
            fields = json.loads(line).get("fields", {})
        except ValueError:
            continue
        if fields.get("message") in ("litellm call", "litellm call failed"):
            requests[fields["path"]] += 1
            waited[fields["path"]] += int(fields.get("elapsed_ms", 0))
    statuses = dict(l.split("|") for l in open(f"{out}/{name}.statuses").read().split())
    load = open(f"{out}/{name}.load").read().split()
    return dict(
        litellm_keys=int(head.group(1)), pages=int(head.group(2)), rows=int(head.group(3)),
        calls=int(head.group(4)), spend=int(head.group(5)), findings=findings,
        wall=float(wall), rss_kb=int(rss), cpu=float(user) + float(sys_),
        pg_ms=pg1 - pg0, commits=commits1 - commits0, double_cpu=(cpu1 - cpu0) / tck,
        requests=requests, waited=waited, statuses=statuses, load=" → ".join(load),
    )

passes = {name: load(name) for name in ("dry-run", "real", "check")}
mb = lambda kb: f"{int(kb) / 1024:.1f} MB"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
per_key = (int(seeded_rss) - int(empty_rss)) * 1024 / max(litellm_keys, 1)
mark = lambda ok: "met" if ok else "MISSED"

print(f"""
### {time.strftime('%Y-%m-%d')}, keyport {rev}

Machine: {cores} cores ({cpu}), {mem:,} MB RAM; the double, PostgreSQL and keyport on the same machine;
PostgreSQL {pg}.
Command: `just bench-reconcile` ({keys:,} active keys, disagreements {order}; release build; `keyport reconcile`
with its defaults: LiteLLM pages of 100, keyport rows in batches of 1,000).

Seeding: keyport's rows by SQL in {seed_sql} s, exported as {litellm_keys:,} JSON lines in {export} s, loaded by
`litellm-double --seed-keys` in {double_seed_ms} ms; the double holds them in {mb(int(seeded_rss) - int(empty_rss))}
(~{per_key:,.0f} bytes a key; {mb(seeded_rss)} resident, {mb(empty_rss)} empty, peak {mb(double_peak)}).

| Pass | Wall clock | Target | keyport peak RSS | keyport CPU | LiteLLM calls (reported / HTTP requests logged) | LiteLLM pages | Keys listed | Waiting for LiteLLM | PostgreSQL active | Double CPU | Findings (found / fixed) | Load average (1 min, before → after) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|""")
for name, p in passes.items():
    found = sum(f for f, _ in p["findings"].values())
    fixed = sum(x for _, x in p["findings"].values())
    label = {"dry-run": "`--dry-run`", "real": "real pass", "check": "`--dry-run` again (check)"}[name]
    print(f"| {label} | {p['wall']:.1f} s | < 60 s: {mark(p['wall'] < 60)} | {mb(p['rss_kb'])} | {p['cpu']:.1f} s "
          f"| {p['calls']:,} / {sum(p['requests'].values()):,} | {p['pages']:,} | {p['litellm_keys']:,} "
          f"| {sum(p['waited'].values()) / 1000:.1f} s | {p['pg_ms'] / 1000:.1f} s | {p['double_cpu']:.1f} s "
          f"| {found} / {fixed} | {p['load']} |")

print("""
| Finding | `--dry-run` found | real pass found | real pass fixed | check found |
|---|---|---|---|---|""")
for k in KINDS:
    f = lambda name, i: passes[name]["findings"].get(k, (0, 0))[i]
    print(f"| {k} | {f('dry-run', 0)} | {f('real', 0)} | {f('real', 1)} | {f('check', 0)} |")

print("""
| HTTP requests by path | `--dry-run` | real pass | check |
|---|---|---|---|""")
paths = sorted(set().union(*(p["requests"] for p in passes.values())))
for path in paths:
    cells = " | ".join(
        f"{p['requests'][path]:,} ({p['waited'][path] / 1000:.1f} s)" for p in passes.values())
    print(f"| `{path}` | {cells} |")

real, check = passes["real"], passes["check"]
left = sum(f for f, _ in check["findings"].values())
converged = ("converged: the check pass finds nothing" if left == 0 else
             f"NOT converged: the check pass still finds {left} "
             f"({', '.join(f'{k} {f}' for k, (f, _) in check['findings'].items() if f)})")
print(f"""
LiteLLM held {litellm_keys:,} keys before the real pass; {converged}.
keyport rows after the real pass: {', '.join(f'{s} {int(c):,}' for s, c in sorted(real['statuses'].items()))}.
Spend recorded by the real pass for {real['spend']:,} keys; {real['commits']:,} PostgreSQL commits.
Per page (real pass): {real['wall'] / max(real['pages'], 1) * 1000:.1f} ms wall, of which
{sum(real['waited'].values()) / max(real['pages'], 1):.1f} ms waiting for LiteLLM and
{real['pg_ms'] / max(real['pages'], 1):.1f} ms in PostgreSQL.
""")
EOF
log "raw output and logs: $out"
