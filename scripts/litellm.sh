#!/usr/bin/env bash
# A real LiteLLM proxy without a database, for the adapter's real-proxy tests (docs/litellm.md).
#   scripts/litellm.sh [test]    install if needed, start, run crates/litellm/tests/real_proxy.rs, stop (`just test`)
#   scripts/litellm.sh serve     install if needed, start, print LITELLM_REAL_URL/_MASTER_KEY, run until Ctrl-C
#   scripts/litellm.sh install   only install (or check) the venv
# LiteLLM (litellm[proxy], pinned below) lives in the venv .venv/litellm, reused while it holds that version.
# It runs on a free 127.0.0.1 port with crates/litellm/tests/fixtures/litellm-config.yaml (mock_response
# models, no upstream calls), a fresh master key, LITELLM_LOCAL_MODEL_COST_MAP=True and no DATABASE_URL;
# its log is .dev/litellm/proxy.log. When the install fails (no network, no usable python3) the script prints
# "SKIPPED: real LiteLLM tests (reason: ...)" and exits 0, unless KEYPORT_REQUIRE_REAL_LITELLM=1.
# Environment: KEYPORT_REQUIRE_REAL_LITELLM=1 (a skip is a failure), KEYPORT_LITELLM_START_TIMEOUT (seconds
# to wait for /health/liveliness, default 120), PYTHON (the interpreter for the venv, default python3).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

LITELLM_VERSION=1.108.7
# Not in the [proxy] extra, but without it LiteLLM's auth error handler crashes on `import prisma` and answers
# a plain-text 500 instead of its 401 JSON (docs/litellm-contract.md#errors). Only imported: no client is
# generated and no engine downloaded, since no database is configured.
PRISMA_VERSION=0.15.0
REQUIREMENTS=("litellm[proxy]==$LITELLM_VERSION" "prisma==$PRISMA_VERSION")
VENV="$KEYPORT_ROOT/.venv/litellm"
STAMP="$VENV/.keyport-requirements"
CONFIG="$KEYPORT_ROOT/crates/litellm/tests/fixtures/litellm-config.yaml"
RUN_DIR="$KEYPORT_ROOT/.dev/litellm"
START_TIMEOUT=${KEYPORT_LITELLM_START_TIMEOUT:-120}

# skip REASON: the real-proxy tests cannot run here. Exit 0 with a SKIPPED line, or fail when required.
skip() {
  if [[ "${KEYPORT_REQUIRE_REAL_LITELLM:-}" == 1 ]]; then
    die "real LiteLLM tests required (KEYPORT_REQUIRE_REAL_LITELLM=1) but cannot run: $1"
  fi
  printf 'SKIPPED: real LiteLLM tests (reason: %s)\n' "$1" >&2
  exit 0
}

# Creates the venv and installs the pinned packages unless the venv already holds exactly them. The stamp
# file is written last, so an interrupted install is redone, never reused.
install() {
  local want start=$SECONDS python=${PYTHON:-python3}
  want=$(printf '%s\n' "${REQUIREMENTS[@]}")
  if [[ -x "$VENV/bin/litellm" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    log "LiteLLM $LITELLM_VERSION: reusing $VENV"
    return 0
  fi
  command -v "$python" >/dev/null 2>&1 || skip "no $python to create a venv with"
  mkdir -p "$RUN_DIR"
  local install_log="$RUN_DIR/install.log"
  log "installing LiteLLM $LITELLM_VERSION into $VENV (about a minute; log: $install_log)"
  rm -rf "$VENV"
  if ! "$python" -m venv "$VENV" >"$install_log" 2>&1; then
    tail -n 5 "$install_log" >&2
    rm -rf "$VENV"
    skip "$python -m venv failed (is the venv module installed?)"
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >>"$install_log" 2>&1 || warn "could not upgrade pip; going on"
  if ! "$VENV/bin/python" -m pip install --quiet "${REQUIREMENTS[@]}" >>"$install_log" 2>&1; then
    tail -n 5 "$install_log" >&2
    rm -rf "$VENV"
    skip "pip install ${REQUIREMENTS[*]} failed with $("$python" --version 2>&1); see $install_log"
  fi
  printf '%s\n' "$want" >"$STAMP"
  log "installed LiteLLM $LITELLM_VERSION in $((SECONDS - start)) s"
}

proxy_pid=""
stop_proxy() {
  [[ -n "$proxy_pid" ]] || return 0
  stop_pid "$proxy_pid" litellm
  proxy_pid=""
}

# Starts the proxy and waits until it is alive; sets LITELLM_REAL_URL and LITELLM_REAL_MASTER_KEY. Retries
# with another port when the one picked was taken in the meantime.
start() {
  local attempt port key url start deadline proxy_log="$RUN_DIR/proxy.log"
  mkdir -p "$RUN_DIR"
  key=$(new_master_key)
  for attempt in 1 2 3; do
    port=$(free_port)
    url="http://127.0.0.1:$port"
    start=$SECONDS
    # No database: DATABASE_URL (which `just test` exports for keyport's own tests) and the variables
    # LiteLLM builds one from are removed.
    env -u DATABASE_URL -u DIRECT_URL -u DATABASE_HOST -u DATABASE_USERNAME -u DATABASE_PASSWORD \
      -u DATABASE_NAME LITELLM_MASTER_KEY="$key" LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=WARNING \
      "$VENV/bin/litellm" --config "$CONFIG" --host 127.0.0.1 --port "$port" >"$proxy_log" 2>&1 &
    proxy_pid=$!
    deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
      if curl -fsS -o /dev/null --max-time 2 "$url/health/liveliness" 2>/dev/null; then
        log "LiteLLM $LITELLM_VERSION is up on $url after $((SECONDS - start)) s (pid $proxy_pid, log $proxy_log)"
        export LITELLM_REAL_URL="$url" LITELLM_REAL_MASTER_KEY="$key"
        return 0
      fi
      kill -0 "$proxy_pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$proxy_pid" 2>/dev/null; then
      stop_proxy
      warn "LiteLLM did not answer /health/liveliness within $START_TIMEOUT s; last lines of $proxy_log:"
      tail -n 30 "$proxy_log" >&2
      return 1
    fi
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=""
    if ((attempt < 3)) && grep -qi 'address already in use' "$proxy_log"; then
      warn "port $port was taken meanwhile; trying another"
      continue
    fi
    warn "LiteLLM exited during start-up; last lines of $proxy_log:"
    tail -n 30 "$proxy_log" >&2
    return 1
  done
  return 1
}

run_tests() {
  local start=$SECONDS status=0
  if ensure_nextest; then
    # = `cargo nextest run -p keyport-litellm --test real_proxy --run-ignored only`, but built with the
    # workspace's features, so that after `just test`'s workspace run nothing is compiled again.
    cargo nextest run --workspace --run-ignored only -E 'package(keyport-litellm) & binary(real_proxy)' || status=$?
  else
    warn "cargo-nextest is not available; running cargo test"
    cargo test -p keyport-litellm --test real_proxy -- --ignored || status=$?
  fi
  log "real-proxy tests took $((SECONDS - start)) s"
  return "$status"
}

main() {
  local command=${1:-test}
  case "$command" in
    install) install ;;
    test | serve) ;;
    -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
    *) die "unknown command: $command (test, serve or install)" ;;
  esac
  [[ "$command" == install ]] && return 0
  ensure_curl || skip "curl is missing and could not be installed"
  install
  trap stop_proxy EXIT
  trap 'exit 130' INT TERM
  start || die "the real LiteLLM did not start"
  if [[ "$command" == serve ]]; then
    log "for the real-proxy tests: LITELLM_REAL_URL=$LITELLM_REAL_URL LITELLM_REAL_MASTER_KEY=$LITELLM_REAL_MASTER_KEY"
    log "cargo nextest run -p keyport-litellm --test real_proxy --run-ignored only; Ctrl-C stops LiteLLM"
    wait "$proxy_pid" || true
    return 0
  fi
  run_tests
}

main "$@"
