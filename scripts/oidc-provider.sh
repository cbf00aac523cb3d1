#!/usr/bin/env bash
# The test OpenID Connect provider (tests/oidc-provider: node-oidc-provider 9) on loopback, for trying the
# single sign-on by hand. The Rust tests start it themselves; `just test` installs its packages.
#   scripts/oidc-provider.sh install            npm ci when node_modules is missing or older than the lock
#   scripts/oidc-provider.sh [run] [PORT]       serve on 127.0.0.1:PORT (default 4010) for a keyport at
#                                               KEYPORT_PUBLIC_URL (default http://127.0.0.1:8080)
# Accounts (any password): alice (keyport-users), root (keyport-admins), audrey (keyport-auditors), eve (none).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$KEYPORT_ROOT/tests/oidc-provider"

install() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    die "node and npm are needed for the test OIDC provider (Node.js 20 or newer; apt-get install nodejs npm)"
  fi
  local stamp="$dir/node_modules/.package-lock.json"
  if [[ -f "$stamp" && "$stamp" -nt "$dir/package-lock.json" ]]; then return 0; fi
  log "installing the test OIDC provider's npm packages (npm ci)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

run() {
  install
  local port=${1:-4010} public=${KEYPORT_PUBLIC_URL:-http://127.0.0.1:8080}
  public=${public%/}
  log "issuer http://127.0.0.1:$port; start keyport with:"
  cat >&2 <<HINT
  KEYPORT_PUBLIC_URL=$public KEYPORT_OIDC_ISSUER=http://127.0.0.1:$port \\
  KEYPORT_OIDC_CLIENT_ID=keyport KEYPORT_OIDC_CLIENT_SECRET=keyport-test-secret \\
  KEYPORT_OIDC_ADMIN_GROUPS=keyport-admins KEYPORT_OIDC_AUDITOR_GROUPS=keyport-auditors \\
  KEYPORT_PROFILE=development keyport serve --bind ${public#http://}
HINT
  cd "$dir"
  exec node server.mjs --port "$port" --redirect-uri "$public/api/v1/auth/callback"
}

case "${1:-run}" in
  install) install ;;
  run) shift || true; run "$@" ;;
  [0-9]*) run "$@" ;;
  *) die "usage: $0 [install | run [PORT] | PORT]" ;;
esac
