#!/usr/bin/env bash
# `just double`: the LiteLLM test double in the foreground, with the demo models.
#   scripts/double.sh [PORT]   default port 4000 (LiteLLM's); master key from LITELLM_MASTER_KEY or a fresh one
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$KEYPORT_ROOT"

port=${1:-4000}
key=${LITELLM_MASTER_KEY:-$(new_master_key)}
cargo build -p keyport-litellm-double --bins
log "LiteLLM double on 127.0.0.1:$port; for keyport: LITELLM_URL=http://127.0.0.1:$port LITELLM_MASTER_KEY=$key"
exec "$(target_dir)/debug/litellm-double" --host 127.0.0.1 --port "$port" --master-key "$key" --demo-models
