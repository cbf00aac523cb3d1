#!/usr/bin/env bash
# `just test`: the whole suite, one step after another, and a summary. Exit code 0 only when every step passed.
#   1. rustfmt check   2. clippy -D warnings   3. shellcheck, the import-cycle check
#   4. a PostgreSQL server (scripts/postgres.sh: DATABASE_URL, 127.0.0.1:5432, or a throwaway cluster)
#   5. schema.rs matches the migrations (scripts/check-schema.sh; installs diesel_cli when missing)
#   5b. the test OIDC provider's npm packages (scripts/oidc-provider.sh install); its tests may not skip
#   6. tests: cargo nextest over the workspace (installs it when missing; falls back to cargo test), doc tests
#   7. the LiteLLM adapter against a real LiteLLM without a database (scripts/litellm.sh; SKIPPED if it cannot install)
#   8. the web UI: Vitest component tests, then the end-to-end journey in Chromium (scripts/web.sh test)
#   9. schemathesis against a real keyport from its OpenAPI document (scripts/fuzz.sh: seed 1, zero failures)
# Tests read the server URL from KEYPORT_TEST_DATABASE_URL or DATABASE_URL; both are exported here.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT" || exit 1

results=()
failed=0
# step NAME COMMAND...: run a step, record PASS/FAIL and its time, go on either way.
step() {
  local name=$1 start=$SECONDS
  shift
  section "$name"
  if "$@"; then
    results+=("PASS  $name ($((SECONDS - start)) s)")
  else
    results+=("FAIL  $name ($((SECONDS - start)) s)")
    failed=1
  fi
}

pg_server() {
  local url
  url=${KEYPORT_TEST_DATABASE_URL:-}
  if [[ -z "$url" ]]; then url=$("$KEYPORT_ROOT/scripts/postgres.sh") || return 1; fi
  export DATABASE_URL="$url" KEYPORT_TEST_DATABASE_URL="$url"
  log "PostgreSQL server for the tests: $url"
}

check_schema() {
  [[ -n "${DATABASE_URL:-}" ]] || { warn "no PostgreSQL server"; return 1; }
  [[ -x scripts/check-schema.sh ]] || { warn "scripts/check-schema.sh is missing or not executable"; return 1; }
  ensure_diesel || return 1
  scripts/check-schema.sh
}

tests() {
  [[ -n "${DATABASE_URL:-}" ]] || { warn "no PostgreSQL server"; return 1; }
  if ensure_nextest; then
    cargo nextest run --workspace --no-tests=warn
  else
    warn "cargo-nextest is not available; running cargo test"
    cargo test --workspace
  fi
}

doc_tests() { cargo test --workspace --doc; }

step "rustfmt" scripts/lint.sh fmt
step "clippy" scripts/lint.sh clippy
step "shellcheck" scripts/lint.sh shell
step "import cycles" scripts/lint.sh cycles
step "PostgreSQL" pg_server
step "schema matches migrations" check_schema
# The OIDC tests start the real test provider (tests/oidc-provider) with node; here they may not skip.
step "OIDC test provider (npm ci)" scripts/oidc-provider.sh install
export KEYPORT_REQUIRE_OIDC_PROVIDER=1
step "tests (nextest)" tests
step "doc tests" doc_tests
step "real LiteLLM (no database)" scripts/litellm.sh test
step "web UI (Vitest + end-to-end in Chromium)" scripts/web.sh test
step "API contract (schemathesis)" scripts/fuzz.sh

section "summary"
printf '%s\n' "${results[@]}" >&2
if ((failed)); then
  printf '\nsome steps FAILED\n' >&2
  exit 1
fi
printf '\nall steps passed\n' >&2
