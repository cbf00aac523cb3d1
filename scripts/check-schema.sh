#!/usr/bin/env bash
# Checks that crates/postgres/src/schema.rs is exactly what diesel prints for the migrations: creates a
# throwaway database on the server named by DATABASE_URL (default: the local PostgreSQL), runs every
# migration, prints the schema, diffs it with the committed file and drops the database. Exits non-zero,
# showing the diff, when they differ. Works from any directory.
#
#   scripts/check-schema.sh            # check
#   scripts/check-schema.sh --write    # regenerate schema.rs from the migrations
set -euo pipefail

write=false
if [[ "${1:-}" == "--write" ]]; then
    write=true
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="$root/diesel.toml"
migrations="$root/migrations"
committed="$root/crates/postgres/src/schema.rs"

diesel="${DIESEL:-}"
if [[ -z "$diesel" ]]; then
    if command -v diesel >/dev/null 2>&1; then
        diesel="diesel"
    elif [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/diesel" ]]; then
        diesel="${CARGO_HOME:-$HOME/.cargo}/bin/diesel"
    else
        echo "check-schema: diesel CLI not found (cargo install diesel_cli --no-default-features --features postgres)" >&2
        exit 2
    fi
fi

# The server comes from DATABASE_URL; the database name in it is replaced by a throwaway one.
server_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
base="${server_url%%\?*}"
query=""
if [[ "$server_url" == *\?* ]]; then
    query="?${server_url#*\?}"
fi
scheme="${base%%://*}"
rest="${base#*://}"
authority="${rest%%/*}"
scratch="keyport_schema_check_$$_${RANDOM}"
scratch_url="${scheme}://${authority}/${scratch}${query}"

workdir="$(mktemp -d)"
cleanup() {
    # Run from the temporary directory so that diesel does not pick up a diesel.toml by accident.
    (cd "$workdir" && DATABASE_URL="$scratch_url" "$diesel" database drop --config-file /dev/null \
        >/dev/null 2>&1) || true
    rm -rf "$workdir"
}
trap cleanup EXIT

cd "$workdir"
# An empty configuration, so that running the migrations does not rewrite the committed schema.rs, and no
# default migration, so that diesel does not add its own `00000000000000_diesel_initial_setup` to migrations/.
DATABASE_URL="$scratch_url" "$diesel" database setup --no-default-migration --config-file /dev/null \
    --migration-dir "$migrations" >"$workdir/setup.log" 2>&1 || {
    cat "$workdir/setup.log" >&2
    echo "check-schema: could not create $scratch and run the migrations" >&2
    exit 2
}
DATABASE_URL="$scratch_url" "$diesel" print-schema --config-file "$config" >"$workdir/schema.rs"

if [[ "$write" == true ]]; then
    cp "$workdir/schema.rs" "$committed"
    echo "check-schema: wrote crates/postgres/src/schema.rs"
    exit 0
fi

if diff -u --label "committed: crates/postgres/src/schema.rs" --label "generated from migrations/" \
    "$committed" "$workdir/schema.rs"; then
    echo "check-schema: crates/postgres/src/schema.rs matches the migrations"
else
    echo "check-schema: crates/postgres/src/schema.rs differs from the migrations; regenerate it with" >&2
    echo "  scripts/check-schema.sh --write   (or: just schema)" >&2
    exit 1
fi
