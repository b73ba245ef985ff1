#!/usr/bin/env bash
# The official MCP conformance suite against the sandbox over streamable HTTP, once per
# revision: `--requirements 2025-11-25` (the initialize handshake, sessions) and
# `--requirements 2026-07-28` (stateless, per-request _meta). Each run's known failures are
# listed, with the reason, in conformance/expected-failures-<revision>.yml; the suite exits
# non-zero on any other failure and on an entry that now passes.
#
#   conformance/run.sh [server-binary]     (default target/release/alpaca-mcp-server)
#
# Installs Node 22 and the suite from the npm registry into target/ci-conformance.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/alpaca-mcp-server}
tools=target/ci-conformance
npm install --no-fund --no-audit --silent --prefix "$tools" node@22.23.3 @modelcontextprotocol/conformance@0.2.0-alpha.12
export PATH="$PWD/$tools/node_modules/.bin:$PATH"
node --version

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" --sandbox --transport http --port "$port" > target/ci-conformance/server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

status=0
for revision in 2025-11-25 2026-07-28; do
  echo "-- conformance --requirements $revision"
  out="target/ci-conformance/results-$revision"
  rm -rf "$out"
  if conformance server --url "http://127.0.0.1:$port/mcp" --requirements "$revision" \
      --expected-failures "conformance/expected-failures-$revision.yml" -o "$out" > "$out.log" 2>&1; then
    grep -E '^Total|expected|unexpected|stale' "$out.log" || true
  else
    status=1
    grep -vE '^(=== Running|Running client|Results saved|$)' "$out.log" | tail -80
  fi
done
exit "$status"
