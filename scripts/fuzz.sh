#!/usr/bin/env bash
# Schemathesis against a real keyport, from keyport's own OpenAPI document (docs/api.md, "The contract").
#
#   scripts/fuzz.sh                       `just test`'s run: seed 1, 12 examples per operation, all phases
#   scripts/fuzz.sh --seed N --examples M a larger run (`just fuzz`); --seed random picks one and prints it
#
# Builds keyport and the LiteLLM double (debug), makes a fresh database keyport_fuzz_<pid> on the server of
# scripts/postgres.sh (dropped at the end), starts the double and `keyport serve` on free ports, and issues two
# tokens: a member's write token (the member holds an active subscription, so keys can be created) and an
# administrator's token with the `admin` scope. Schemathesis (pinned, in the venv .venv/schemathesis) then runs
# every check, every phase (examples, coverage, fuzzing, stateful), once per token. The run fails on any
# failure, including a server error. Reports (JUnit, NDJSON) go to .dev/fuzz/.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

SCHEMATHESIS_VERSION=4.32.5
VENV="$KEYPORT_ROOT/.venv/schemathesis"
RUN_DIR="$KEYPORT_ROOT/.dev/fuzz"
seed=1
examples=12

while (($#)); do
  case "$1" in
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --examples) examples=${2:?--examples needs a value}; shift 2 ;;
    *) die "usage: $0 [--seed N|random] [--examples M]" ;;
  esac
done
[[ "$seed" == random ]] && seed=$((RANDOM * 32768 + RANDOM))
[[ "$seed" =~ ^[0-9]+$ && "$examples" =~ ^[0-9]+$ ]] || die "--seed and --examples take numbers"

install() {
  local stamp="$VENV/.keyport-version" python=${PYTHON:-python3}
  if [[ -x "$VENV/bin/schemathesis" && "$(cat "$stamp" 2>/dev/null)" == "$SCHEMATHESIS_VERSION" ]]; then
    return 0
  fi
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  "$python" -m venv "$VENV" >&2 || die "$python -m venv failed (is the venv module installed?)"
  "$VENV/bin/python" -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION" >&2 ||
    die "could not install schemathesis $SCHEMATHESIS_VERSION from PyPI"
  echo "$SCHEMATHESIS_VERSION" >"$stamp"
}

section "schemathesis"
install
mkdir -p "$RUN_DIR"

section "build"
cargo build -p keyport-server -p keyport-litellm-double --bins
bin="$(target_dir)/debug"
keyport="$bin/keyport"

pids=()
names=()
database=""
server=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}" "${names[i]}"; done
  if [[ -n "$database" ]]; then
    "$(psql_bin)" -q -X "$(url_with_database "$server" postgres)" -c "SET client_min_messages = warning" \
      -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

section "PostgreSQL, LiteLLM double, keyport"
server=${KEYPORT_TEST_DATABASE_URL:-${DATABASE_URL:-}}
[[ -n "$server" ]] || server=$("$KEYPORT_ROOT/scripts/postgres.sh")
database="keyport_fuzz_$$"
DATABASE_URL=$(ensure_database "$server" "$database" fresh)
export DATABASE_URL

# The logs of an earlier run go first: waiting on a file the new process has not truncated yet would read
# the old address.
rm -f "$RUN_DIR/litellm-double.log" "$RUN_DIR/keyport.log"
LITELLM_MASTER_KEY=$(new_master_key)
"$bin/litellm-double" --host 127.0.0.1 --port "$(free_port)" --master-key "$LITELLM_MASTER_KEY" --demo-models \
  >"$RUN_DIR/litellm-double.log" 2>&1 &
pids+=($!) names+=(litellm-double)
line=$(wait_for_line "$RUN_DIR/litellm-double.log" 'listening on http://[^[:space:]]+' "${pids[-1]}" 120) ||
  die "the LiteLLM double did not start (log: $RUN_DIR/litellm-double.log)"
export LITELLM_URL=${line#listening on } LITELLM_MASTER_KEY

"$keyport" migrate >&2
"$keyport" sync models >&2
admin_token=$("$keyport" admin create-token fuzz-admin --create-user --admin)
member_token=$("$keyport" admin create-token fuzz-member --create-user)

# Schemathesis sends wrong credentials on purpose, thousands of times from one address; the limit on failed
# authentications (tested on its own in crates/server/tests) would turn its 401s into 429s.
KEYPORT_BIND="127.0.0.1:$(free_port)"
export KEYPORT_BIND KEYPORT_PROFILE=development KEYPORT_DEV_LOGIN=false KEYPORT_AUTH_FAILURES_PER_MINUTE=0
"$keyport" serve >"$RUN_DIR/keyport.log" 2>&1 &
pids+=($!) names+=(keyport)
line=$(wait_for_line "$RUN_DIR/keyport.log" 'keyport listening on http://[^[:space:]]+' "${pids[-1]}" 120) ||
  die "keyport did not start (log: $RUN_DIR/keyport.log)"
portal=${line#keyport listening on }

# The member subscribes to a model that needs no approval, so that key creation can succeed.
curl -fsS "$portal/api/v1/subscriptions" -H "Authorization: Bearer $member_token" \
  -H 'Content-Type: application/json' -d '{"model_id": "gpt-4o-mini"}' >/dev/null ||
  die "the member could not subscribe to gpt-4o-mini"

# run NAME TOKEN: one schemathesis run with that token; its exit code.
run() {
  local name=$1 token=$2
  section "schemathesis as the $name (seed $seed, $examples examples per operation)"
  KEYPORT_FUZZ_TOKEN=$token "$VENV/bin/schemathesis" --config-file "$KEYPORT_ROOT/scripts/schemathesis.toml" --no-color \
    run "$portal/api/v1/openapi.json" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --seed "$seed" --max-examples "$examples" --workers 1 \
    --request-timeout 30 --wait-for-schema 30 \
    --report junit,ndjson --report-dir "$RUN_DIR/$name" \
    --warnings off
}

status=0
run member "$member_token" || status=1
run admin "$admin_token" || status=1
((status == 0)) || die "schemathesis found failures (seed $seed; reports in $RUN_DIR; keyport log: $RUN_DIR/keyport.log)"
log "schemathesis: no failures (seed $seed, $examples examples per operation, member and admin)"
