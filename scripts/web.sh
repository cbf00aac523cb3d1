#!/usr/bin/env bash
# The web UI (web-ui/): npm packages, build, dev server, tests. The justfile's web-* recipes call this.
#
#   scripts/web.sh install   npm ci when node_modules is missing or older than package-lock.json
#   scripts/web.sh build     install, generate the API types from docs/openapi.json, type-check, build web-ui/dist
#   scripts/web.sh dev       install, then Vite's dev server proxying /api to KEYPORT_URL (default 127.0.0.1:8080)
#   scripts/web.sh unit      install, then the Vitest component tests
#   scripts/web.sh test      unit, then the end-to-end journey in Chromium (scripts/e2e.sh)
#
# The keyport binary serves web-ui/dist at / (embedded in release builds, read from disk in debug builds).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
web="$KEYPORT_ROOT/web-ui"

ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    die "node and npm are needed for the web UI (Node.js 20.19 or newer)"
  fi
}

install() {
  ensure_node
  local stamp="$web/node_modules/.package-lock.json"
  if [[ -f "$stamp" && ! "$web/package-lock.json" -nt "$stamp" ]]; then return 0; fi
  log "installing the web UI's npm packages (npm ci)"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
}

case "${1:-}" in
  install) install ;;
  build)
    install
    log "building the web UI into web-ui/dist"
    (cd "$web" && npm run --silent build)
    ;;
  dev)
    install
    log "Vite dev server; /api goes to ${KEYPORT_URL:=http://127.0.0.1:8080} (start keyport with \`just run\`)"
    export KEYPORT_URL
    cd "$web" && exec npm run --silent dev
    ;;
  unit)
    install
    (cd "$web" && npm test --silent)
    ;;
  test)
    install
    section "web UI: component tests (Vitest)"
    (cd "$web" && npm test --silent)
    section "web UI: end-to-end journey (Chromium)"
    "$KEYPORT_ROOT/scripts/e2e.sh"
    ;;
  *) die "usage: $0 install|build|dev|unit|test" ;;
esac
