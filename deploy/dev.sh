#!/usr/bin/env bash
# `make dev`: the sandboxes in the background, then `dagster dev` on workspace.yaml against them.
set -euo pipefail
: "${SANDBOX_DIR:=.sandbox}" "${BIN:=.venv/bin}"
rm -f "$SANDBOX_DIR/sandbox.env"
"$BIN/afas-sf" sandbox --dir "$SANDBOX_DIR" &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  [ -s "$SANDBOX_DIR/sandbox.env" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { echo "sandbox failed to start" >&2; exit 1; }
  sleep 0.1
done
set -a; . "$SANDBOX_DIR/sandbox.env"; set +a
"$BIN/dagster" dev -w workspace.yaml
