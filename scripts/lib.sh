# shellcheck shell=bash
# Helpers shared by the scripts in this folder: logging, ports, waiting for a process to be ready,
# installing missing tools. Source it; it defines functions and KEYPORT_ROOT and changes nothing else.

KEYPORT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KEYPORT_ROOT
# Tools installed with `cargo install` land here; a fresh shell may not have it on PATH yet.
case ":$PATH:" in *":${CARGO_HOME:-$HOME/.cargo}/bin:"*) ;; *) PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" ;; esac

if [[ -t 2 ]]; then _kp_bold=$'\033[1m' _kp_red=$'\033[31m' _kp_yellow=$'\033[33m' _kp_off=$'\033[0m'
else _kp_bold='' _kp_red='' _kp_yellow='' _kp_off=''; fi

# Messages go to stderr so that stdout stays for values a caller captures (a URL, a token).
log() { printf '%s==>%s %s\n' "$_kp_bold" "$_kp_off" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_kp_yellow" "$_kp_off" "$*" >&2; }
die() { printf '%serror:%s %s\n' "$_kp_red" "$_kp_off" "$*" >&2; exit 1; }
section() { printf '\n%s===== %s =====%s\n' "$_kp_bold" "$*" "$_kp_off" >&2; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
  if is_root; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else warn "need root to run: $* (no sudo here)"; return 1; fi
}

_kp_apt_updated=""
# apt_install PKG...: install the Debian packages that are not installed yet.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null 2>&1 || { warn "missing packages ${missing[*]} and no apt-get to install them"; return 1; }
  log "installing Debian packages: ${missing[*]}"
  if [[ -z "$_kp_apt_updated" ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || warn "apt-get update failed"
    _kp_apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    { warn "could not install ${missing[*]}"; return 1; }
}

# A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_is_free PORT: true when nothing listens on 127.0.0.1:PORT and we could bind it.
port_is_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

# A fresh LiteLLM-style master key: "sk-" and 32 hex digits.
new_master_key() { printf 'sk-%s\n' "$(python3 -c 'import secrets; print(secrets.token_hex(16))')"; }

# wait_for_line FILE REGEX PID [SECONDS]: wait until FILE has a line matching REGEX (extended) and print the
# first such match; fail when PID exits first or the time runs out (default 60 s).
wait_for_line() {
  local file=$1 regex=$2 pid=$3 deadline=$((SECONDS + ${4:-60})) match
  while ((SECONDS < deadline)); do
    if [[ -f "$file" ]] && match=$(grep -m1 -oE "$regex" "$file"); then
      printf '%s\n' "$match"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { warn "process $pid exited; last lines of $file:"; tail -n 20 "$file" >&2; return 1; }
    sleep 0.1
  done
  warn "timed out waiting for /$regex/ in $file; last lines:"
  tail -n 20 "$file" >&2
  return 1
}

# stop_pid PID [NAME]: SIGTERM, then SIGKILL after 10 s; quiet when the process is already gone.
stop_pid() {
  local pid=$1 name=${2:-process} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  warn "$name ($pid) did not stop on SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# url_with_database URL NAME: URL with its database (path) replaced by NAME.
url_with_database() {
  python3 - "$1" "$2" <<'EOF'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))
EOF
}

# psql from PATH or from the newest PostgreSQL installed, installing the client when there is none.
psql_bin() {
  if command -v psql >/dev/null 2>&1; then command -v psql; return; fi
  local d
  d=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  if [[ -n "$d" && -x "$d/psql" ]]; then echo "$d/psql"; return; fi
  apt_install postgresql-client
  command -v psql
}

# ensure_database SERVER_URL NAME [fresh]: create database NAME on the server of SERVER_URL unless it exists
# (drop it first with "fresh"); print the URL of that database.
ensure_database() {
  local name=$2 fresh=${3:-} psql admin
  [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "unsafe database name: $name"
  psql=$(psql_bin)
  admin=$(url_with_database "$1" postgres)
  if [[ "$fresh" == fresh ]]; then
    "$psql" -q -X -v ON_ERROR_STOP=1 "$admin" -c "SET client_min_messages = warning" \
      -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >&2
  fi
  if [[ "$("$psql" -X -At "$admin" -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" != 1 ]]; then
    "$psql" -q -X -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE $name" >&2
  fi
  url_with_database "$1" "$name"
}

# The login role keyport serves as in local and test clusters (docs/security.md#database-roles): a member of the
# group role keyport_app, owning nothing. Its password is for development and test clusters only.
KEYPORT_SERVE_ROLE=keyport_serve
KEYPORT_SERVE_PASSWORD=keyport-dev

# serve_role_url OWNER_URL: with the rights of OWNER_URL's role, create (once; roles are cluster-wide) the group
# role keyport_app and the login role keyport_serve in it, check that keyport_serve can log in, and print
# OWNER_URL with keyport_serve's credentials. Fails, printing nothing, when the role may not create roles or
# keyport_serve cannot log in; keyport then runs as one role, as a simple install does.
serve_role_url() {
  local owner_url=$1 psql url
  psql=$(psql_bin)
  # The advisory lock serialises concurrent scripts; the exception covers a migration creating keyport_app.
  "$psql" -q -X -v ON_ERROR_STOP=1 "$owner_url" >/dev/null 2>&1 <<SQL || return 1
DO \$\$
BEGIN
  PERFORM pg_advisory_xact_lock(30241163003784294);
  BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'keyport_app') THEN
      CREATE ROLE keyport_app NOLOGIN;
    END IF;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$KEYPORT_SERVE_ROLE') THEN
    CREATE ROLE $KEYPORT_SERVE_ROLE LOGIN PASSWORD '$KEYPORT_SERVE_PASSWORD';
  END IF;
  IF NOT pg_has_role('$KEYPORT_SERVE_ROLE', 'keyport_app', 'MEMBER') THEN
    GRANT keyport_app TO $KEYPORT_SERVE_ROLE;
  END IF;
END
\$\$;
SQL
  url=$(python3 - "$owner_url" "$KEYPORT_SERVE_ROLE" "$KEYPORT_SERVE_PASSWORD" <<'EOF'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
host = p.hostname or ""
if ":" in host:
    host = "[" + host + "]"
port = f":{p.port}" if p.port else ""
netloc = f"{u.quote(sys.argv[2], safe='')}:{u.quote(sys.argv[3], safe='')}@{host}{port}"
print(u.urlunsplit(p._replace(netloc=netloc)))
EOF
  ) || return 1
  "$psql" -X -At "$url" -c 'SELECT 1' >/dev/null 2>&1 || return 1
  echo "$url"
}

# --- tools -------------------------------------------------------------------------------------------------
# Each ensure_* installs a missing tool and is quiet when it is there.

ensure_diesel() {
  command -v diesel >/dev/null 2>&1 && return 0
  apt_install libpq-dev pkg-config
  log "installing diesel_cli (a few minutes)"
  cargo install diesel_cli --no-default-features --features postgres --locked >&2
}

# True when cargo-nextest is usable; installs it when missing. Callers fall back to `cargo test` on failure.
ensure_nextest() {
  cargo nextest --version >/dev/null 2>&1 && return 0
  log "installing cargo-nextest (a few minutes)"
  cargo install cargo-nextest --locked >&2 && cargo nextest --version >/dev/null 2>&1
}

ensure_just() {
  command -v just >/dev/null 2>&1 && return 0
  log "installing just"
  if python3 -m pip install --quiet rust-just >&2; then
    local bin
    bin=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    case ":$PATH:" in *":$bin:"*) ;; *) PATH="$bin:$PATH" ;; esac
    command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1
    command -v just >/dev/null 2>&1 && return 0
  fi
  cargo install just --locked >&2
}

ensure_wrk() { command -v wrk >/dev/null 2>&1 || apt_install wrk; }
ensure_shellcheck() { command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck; }
ensure_curl() { command -v curl >/dev/null 2>&1 || apt_install curl; }

# --- build ---------------------------------------------------------------------------------------------------

# Cargo's target directory (honours CARGO_TARGET_DIR and .cargo/config).
target_dir() {
  cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

# --- a running stack, for the benchmarks and the soak ----------------------------------------------------------
# Both start a process in the background of the calling shell (not in a $(...) subshell, so it stays the
# caller's child) and add its pid to the caller's array `pids`, whose EXIT trap stops what it holds. The log
# file is removed first: waiting on a file the new process has not truncated yet would read an old address.

# start_litellm_double BIN_DIR LOG [ARG...]: BIN_DIR/litellm-double on a free port of 127.0.0.1 with the demo
# models, a fresh master key and ARGs. Sets double_pid, LITELLM_URL and LITELLM_MASTER_KEY (not exported);
# fails when it does not listen within 120 s.
start_litellm_double() {
  local bin=$1 log=$2 line
  shift 2
  LITELLM_MASTER_KEY=$(new_master_key)
  rm -f "$log"
  "$bin/litellm-double" --host 127.0.0.1 --port "$(free_port)" --master-key "$LITELLM_MASTER_KEY" --demo-models \
    "$@" >"$log" 2>&1 &
  double_pid=$!
  pids+=("$double_pid")
  line=$(wait_for_line "$log" 'listening on http://[^[:space:]]+' "$double_pid" 120) || return 1
  # shellcheck disable=SC2034 # for the caller
  LITELLM_URL=${line#listening on }
}

# start_keyport_serve BIN_DIR LOG [ENV_ARG...]: `BIN_DIR/keyport serve` on a free port of 127.0.0.1, run through
# env(1) with ENV_ARGs (NAME=VALUE, -u NAME) on top of the caller's environment. Sets keyport_pid and portal
# (http://127.0.0.1:PORT); fails when it does not listen within 120 s (it migrates first).
start_keyport_serve() {
  local bin=$1 log=$2 line
  shift 2
  rm -f "$log"
  env "$@" KEYPORT_BIND="127.0.0.1:$(free_port)" "$bin/keyport" serve >"$log" 2>&1 &
  keyport_pid=$!
  pids+=("$keyport_pid")
  line=$(wait_for_line "$log" 'keyport listening on http://[^[:space:]]+' "$keyport_pid" 120) || return 1
  # shellcheck disable=SC2034 # for the caller
  portal=${line#keyport listening on }
}
