# keyport tasks. `just` lists them; the long shell lives in scripts/.
# If `just` is missing: `cargo install just` or `pip install rust-just`.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

# List the recipes
default:
    @just --list --unsorted

# Build and start everything (PostgreSQL, LiteLLM double, keyport) and print a curl walkthrough; Ctrl-C stops it
run *args:
    scripts/run.sh "$@"

# The whole suite: fmt check, clippy -D warnings, shellcheck, schema check, tests (starts PostgreSQL if needed)
test:
    scripts/test.sh

# Static checks: rustfmt (check), clippy -D warnings, shellcheck
lint:
    scripts/lint.sh

# Format all Rust code
fmt:
    cargo fmt --all

# Check that the committed diesel schema.rs matches the migrations
check-schema:
    #!/usr/bin/env bash
    set -euo pipefail
    source scripts/lib.sh
    ensure_diesel
    DATABASE_URL="$(scripts/postgres.sh)" scripts/check-schema.sh

# Regenerate crates/postgres/src/schema.rs from migrations/
schema:
    #!/usr/bin/env bash
    set -euo pipefail
    source scripts/lib.sh
    ensure_diesel
    DATABASE_URL="$(scripts/postgres.sh)" scripts/check-schema.sh --write

# Benchmark list/create key throughput and memory against docs/performance.md#targets (release build, wrk, ~1 min)
bench:
    scripts/bench.sh

# Mixed traffic at half the measured capacity for N minutes (release build): no errors, flat memory (not in `just test`)
soak minutes="10":
    scripts/soak.sh --minutes "$1"

# Benchmark one reconcile pass over 100,000 keys against the seeded LiteLLM double (release build, ~2 min)
bench-reconcile:
    scripts/bench-reconcile.sh

# Schemathesis against a real keyport, larger than `just test`'s run: `just fuzz [SEED|random] [EXAMPLES]`
fuzz seed="random" examples="200":
    scripts/fuzz.sh --seed "$1" --examples "$2"

# Regenerate docs/openapi.json from the API's OpenAPI snapshot test
openapi:
    UPDATE_OPENAPI=1 cargo test -p keyport-api --test openapi

# Regenerate every document made from the code: docs/openapi.json, the authorization table in docs/security.md and the endpoint list in docs/api.md
docs:
    UPDATE_OPENAPI=1 UPDATE_DOCS=1 cargo test -p keyport-api --test openapi --test authz_table --test api_table

# Run the LiteLLM test double in the foreground (default port 4000)
double port="4000":
    scripts/double.sh "$1"

# A real LiteLLM 1.108.7 without a database: the adapter's real-proxy tests (`just litellm serve` keeps one up)
litellm command="test":
    scripts/litellm.sh "$1"

# Print the PostgreSQL server URL, starting a throwaway cluster in .dev/pg if none runs
db:
    scripts/postgres.sh

# Stop the throwaway PostgreSQL cluster (data stays in .dev/pg)
db-stop:
    scripts/postgres.sh stop

# --- web UI (web-ui/) -----------------------------------------------------------------------------------------
# Install the web UI's npm packages (npm ci) when node_modules is missing or out of date
web-install:
    scripts/web.sh install

# Build the web UI into web-ui/dist (API types generated from docs/openapi.json first); keyport serves it at /
web-build:
    scripts/web.sh build

# Vite's dev server with hot reload, proxying /api to a running keyport (KEYPORT_URL, default 127.0.0.1:8080)
web-dev:
    scripts/web.sh dev

# The web UI's tests: Vitest component tests, then the end-to-end journey in Chromium against a real keyport
web-test:
    scripts/web.sh test
