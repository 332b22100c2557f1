#!/usr/bin/env bash
# Prints the fleet lab's figures: time to the ready line, time until all 30 000 pods are Ready,
# RSS, and idle CPU over 10 s. Usage: scripts/lab-fleet-figures.sh [path/to/baton]
set -euo pipefail
baton=${1:-target/release/baton}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
start=$(date +%s%N)
BATON_DATA_DIR="$work/data" "$baton" lab serve --profile fleet --kubeconfig-out "$work/kc" > "$work/out" 2> "$work/err" &
pid=$!
until grep -q '^ready ' "$work/out"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
  sleep 0.1
done
ready=$(( ($(date +%s%N) - start) / 1000000 ))
for _ in $(seq 1 120); do
  grep -q 'every pod is ready' "$work/data/logs/baton.log" 2>/dev/null && break
  sleep 0.5
done
all_ready=$(grep -o 'every pod is ready pods=[0-9]* elapsed_ms=[0-9]*' "$work/data/logs/baton.log" | sed 's/.*elapsed_ms=//')
sleep 5
t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
sleep 10
t2=$(awk '{print $14+$15}' "/proc/$pid/stat")
hz=$(getconf CLK_TCK)
rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
echo "fleet lab: ready line after ${ready} ms; all 30000 pods Ready after ${all_ready:-?} ms"
echo "fleet lab: RSS ${rss} MiB; idle CPU $(( (t2 - t1) * 100 / hz / 10 ))% of one core (10 s, 10000 Raft groups ticking)"
