#!/usr/bin/env bash
# A PostgreSQL server for development, tests and benchmarks.
#
#   scripts/postgres.sh [url]   print the server URL (database "postgres"), starting a throwaway cluster if needed
#   scripts/postgres.sh stop    stop the throwaway cluster (its data stays in .dev/pg; `rm -rf .dev/pg` to wipe)
#   scripts/postgres.sh status  say which server `url` would use, without starting anything
#   source scripts/postgres.sh  the same as `url`, then exports DATABASE_URL into the calling shell
#
# Which server, in order:
#   1. $DATABASE_URL when set (used as is);
#   2. a server on 127.0.0.1:5432 that lets user postgres in without a password;
#   3. a throwaway cluster in .dev/pg (reused while it runs), on 127.0.0.1, port 55432 or the next free one,
#      trust auth, fsync off. Installs Debian's `postgresql` when its binaries are missing.
# Environment: KEYPORT_PG_FORCE_LOCAL=1 skips 1 and 2; KEYPORT_PG_PORT sets the port tried first for 3.
# Messages go to stderr; stdout carries only the URL.

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEYPORT_PG_STATE="$KEYPORT_ROOT/.dev/pg"

# Where the newest installed PostgreSQL keeps initdb, pg_ctl, pg_isready; empty when none is installed.
_pg_bindir() {
  local d
  if [[ -n "${1:-}" && -x "/usr/lib/postgresql/$1/bin/pg_ctl" ]]; then echo "/usr/lib/postgresql/$1/bin"; return; fi
  for d in $(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return; }
  done
}

_pg_isready() {
  local bin
  bin=$(command -v pg_isready || true)
  [[ -n "$bin" ]] || { bin="$(_pg_bindir)/pg_isready"; [[ -x "$bin" ]] || return 2; }
  "$bin" -q -h 127.0.0.1 -p "$1" -t "${2:-3}"
}

# initdb refuses to run as root, so as root the cluster belongs to the `postgres` system user.
_pg_as_owner() {
  if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# The directory that holds the cluster: .dev/pg, unless the postgres user cannot reach it (the work tree under
# a private home, say); then a fixed directory under /tmp named after the work tree.
_pg_home() {
  mkdir -p "$KEYPORT_PG_STATE"
  if is_root; then
    id -u postgres >/dev/null 2>&1 ||
      useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres: "$KEYPORT_PG_STATE"
    if ! (cd / && runuser -u postgres -- test -w "$KEYPORT_PG_STATE" -a -x "$KEYPORT_PG_STATE"); then
      local alt
      alt="/tmp/keyport-pg-$(printf '%s' "$KEYPORT_ROOT" | cksum | cut -d' ' -f1)"
      mkdir -p "$alt" && chown postgres: "$alt" && chmod 700 "$alt"
      echo "$alt"
      return
    fi
  fi
  echo "$KEYPORT_PG_STATE"
}

# Port of the running throwaway cluster in DATA (line 4 of postmaster.pid); fails when it does not run.
_pg_running_port() {
  local data=$1 bindir=$2 port
  [[ -f "$data/postmaster.pid" ]] || return 1
  _pg_as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
  port=$(sed -n 4p "$data/postmaster.pid")
  [[ "$port" =~ ^[0-9]+$ ]] && _pg_isready "$port" 10 || return 1
  echo "$port"
}

_pg_local_url() {
  local bindir home data version port
  bindir=$(_pg_bindir)
  if [[ -z "$bindir" ]]; then
    log "no PostgreSQL binaries under /usr/lib/postgresql; installing Debian's postgresql"
    apt_install postgresql
    bindir=$(_pg_bindir)
    [[ -n "$bindir" ]] || die "PostgreSQL binaries still missing after installing the package"
  fi
  home=$(_pg_home)
  data="$home/data"

  if [[ -f "$data/PG_VERSION" ]]; then
    version=$(cat "$data/PG_VERSION")
    if [[ -n "$(_pg_bindir "$version")" ]]; then
      bindir=$(_pg_bindir "$version")
    else
      warn "the throwaway cluster in $data is PostgreSQL $version, which is not installed; re-creating it"
      rm -rf "$data"
    fi
  fi

  if port=$(_pg_running_port "$data" "$bindir"); then
    log "reusing the throwaway PostgreSQL in $data on port $port"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    return
  fi

  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "creating a throwaway PostgreSQL cluster in $data"
    rm -rf "$data"
    _pg_as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 ||
      { cat "$home/initdb.log" >&2; die "initdb failed"; }
    # Throwaway data: durability is traded for speed; TCP on loopback only, no Unix socket to collide with.
    _pg_as_owner tee -a "$data/postgresql.conf" >/dev/null <<'EOF'

# keyport throwaway cluster (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
EOF
  fi

  port=${KEYPORT_PG_PORT:-55432}
  local tries=0
  until port_is_free "$port"; do
    ((++tries < 50)) || die "no free port from ${KEYPORT_PG_PORT:-55432} upwards"
    port=$((port + 1))
  done
  log "starting the throwaway PostgreSQL on 127.0.0.1:$port (log: $home/postgres.log)"
  _pg_as_owner "$bindir/pg_ctl" -D "$data" -l "$home/postgres.log" -o "-p $port" -w -t 60 start </dev/null >&2 ||
    { tail -n 20 "$home/postgres.log" >&2; die "could not start the throwaway PostgreSQL"; }
  _pg_isready "$port" 30 || die "the throwaway PostgreSQL does not answer on port $port"
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

# True when the server on 127.0.0.1:5432 lets `postgres` in without a password.
_pg_system_ok() {
  _pg_isready 5432 2>/dev/null || return 1
  local psql
  psql=$(command -v psql || true)
  [[ -n "$psql" ]] || psql="$(_pg_bindir)/psql"
  [[ -x "$psql" ]] || return 0 # it answers; nothing here to check the login with
  PGCONNECT_TIMEOUT=5 "$psql" -X -At -w "postgres://postgres@127.0.0.1:5432/postgres" -c 'SELECT 1' >/dev/null 2>&1 && return 0
  warn "a PostgreSQL answers on 127.0.0.1:5432 but user postgres cannot log in without a password; not using it"
  return 1
}

keyport_pg_url() {
  if [[ "${KEYPORT_PG_FORCE_LOCAL:-}" != 1 ]]; then
    if [[ -n "${DATABASE_URL:-}" ]]; then echo "$DATABASE_URL"; return; fi
    if _pg_system_ok; then echo "postgres://postgres@127.0.0.1:5432/postgres"; return; fi
  fi
  _pg_local_url
}

keyport_pg_stop() {
  local bindir home data version
  home=$(_pg_home)
  data="$home/data"
  if [[ ! -f "$data/postmaster.pid" ]]; then log "the throwaway PostgreSQL is not running"; return 0; fi
  version=$(cat "$data/PG_VERSION" 2>/dev/null || true)
  bindir=$(_pg_bindir "$version")
  [[ -n "$bindir" ]] || die "no PostgreSQL binaries to stop the cluster in $data with"
  _pg_as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2
}

keyport_pg_status() {
  local port home bindir
  if [[ "${KEYPORT_PG_FORCE_LOCAL:-}" != 1 ]]; then
    if [[ -n "${DATABASE_URL:-}" ]]; then echo "DATABASE_URL is set: $DATABASE_URL"; return; fi
    if _pg_system_ok; then echo "server on 127.0.0.1:5432: postgres://postgres@127.0.0.1:5432/postgres"; return; fi
  fi
  home=$(_pg_home)
  bindir=$(_pg_bindir "$(cat "$home/data/PG_VERSION" 2>/dev/null || true)")
  if [[ -n "$bindir" ]] && port=$(_pg_running_port "$home/data" "$bindir"); then
    echo "throwaway cluster running in $home/data: postgres://postgres@127.0.0.1:$port/postgres"
  else
    echo "no server yet; \`scripts/postgres.sh\` would start a throwaway cluster in $home/data"
  fi
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: export the URL into the caller's shell (and leave its options alone on failure).
  if _keyport_pg_url=$(keyport_pg_url); then
    export DATABASE_URL="$_keyport_pg_url"
    unset _keyport_pg_url
  else
    unset _keyport_pg_url
    return 1
  fi
else
  set -euo pipefail
  case "${1:-url}" in
    url) keyport_pg_url ;;
    stop) keyport_pg_stop ;;
    status) keyport_pg_status ;;
    *) die "usage: $0 [url|stop|status]" ;;
  esac
fi
