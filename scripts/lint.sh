#!/usr/bin/env bash
# Static checks. `scripts/lint.sh` runs them all; `scripts/lint.sh fmt|clippy|shell|cycles` runs one.
#   fmt     rustfmt in check mode (`just fmt` fixes)
#   clippy  clippy over every crate, target and feature, warnings denied
#   shell   shellcheck over scripts/*.sh and .ci/run (installs shellcheck when missing)
#   cycles  no import cycle between the files of a crate (scripts/check-cycles.py, its self-test first)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

lint_fmt() { cargo fmt --all -- --check; }
lint_clippy() { cargo clippy --workspace --all-targets --all-features -- -D warnings; }
lint_shell() {
  ensure_shellcheck || { warn "shellcheck is not available; shell scripts not checked"; return 0; }
  shellcheck -x -S warning scripts/*.sh .ci/run
}
lint_cycles() { python3 scripts/check-cycles.py --self-test && python3 scripts/check-cycles.py; }

case "${1:-all}" in
  fmt) lint_fmt ;;
  clippy) lint_clippy ;;
  shell) lint_shell ;;
  cycles) lint_cycles ;;
  all) lint_fmt && lint_clippy && lint_shell && lint_cycles ;;
  *) die "usage: $0 [fmt|clippy|shell|cycles|all]" ;;
esac
