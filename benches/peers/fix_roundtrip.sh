#!/usr/bin/env bash
# FIX order entry, measured from the OMS's side: QuickFIX C++ (the test peer,
# tests/fix_peer) sends NewOrderSingles to a release `vigil engine
# --fix-listen` over loopback and times each one to its first
# ExecutionReport (New), then sends a burst back to back and counts orders
# acknowledged per second. Once without a journal, once with `--record`
# (each command fsync'd before it is acknowledged, the default policy).
#
#   benches/peers/fix_roundtrip.sh [N]      (default N = 2000)
#
# Needs libquickfix-dev (apt) and a release build (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-2000}"
vigil=target/release/vigil
[ -x "$vigil" ] || { echo "build it first: cargo build --release" >&2; exit 1; }
oms="$(tests/fix_peer/build.sh | tail -1)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/fix.toml" <<'TOML'
[[sessions]]
sender_comp_id = "OMS1"
target_comp_id = "VIGIL"
user = "bench"
role = "trader"
TOML

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() {
  local label="$1"; shift
  local port; port="$(free_port)"
  rm -rf "$work/store" "$work/rec" "$work/oms"
  "$vigil" engine --listen 127.0.0.1:0 --token bench-token --scenario calm --seed 1 \
    --fix-listen "127.0.0.1:$port" --fix-config "$work/fix.toml" --fix-store "$work/store" "$@" \
    > "$work/engine.log" 2>&1 &
  local engine=$!
  for _ in $(seq 100); do grep -q "FIX 4.4 acceptor" "$work/engine.log" && break; sleep 0.1; done
  # The peer reads commands from a FIFO so the bench waits for the logon.
  mkfifo "$work/in"
  "$oms" --port "$port" --store "$work/oms" --dict target/fix-peer/FIX44.xml < "$work/in" > "$work/oms.out" 2>&1 &
  local peer=$!
  exec 9> "$work/in"
  echo start >&9
  for _ in $(seq 100); do grep -q "^LOGON" "$work/oms.out" && break; sleep 0.1; done
  echo "bench $N ACME" >&9
  for _ in $(seq 1200); do grep -q "sustained_orders_per_s\|^ERROR" "$work/oms.out" && break; sleep 0.1; done
  echo quit >&9
  exec 9>&-
  wait "$peer" 2>/dev/null || true
  kill -INT "$engine"; wait "$engine" 2>/dev/null || true
  rm -f "$work/in"
  local rtt sus
  rtt="$(grep '^BENCH rtt' "$work/oms.out" || grep '^ERROR' "$work/oms.out" || echo 'no result')"
  sus="$(grep '^BENCH sustained' "$work/oms.out" || echo '')"
  printf '%-28s %s %s\n' "$label" "${rtt#BENCH }" "${sus#BENCH }"
}

echo "FIX NewOrderSingle → first ExecutionReport, $N orders each phase, $(nproc) cores, $(date -u +%F)"
run "no journal"
run "journal (--journal-sync commands)" --record "$work/rec"
