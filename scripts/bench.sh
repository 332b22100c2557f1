#!/usr/bin/env bash
# Benchmarks on the fleet profile (200 orchestras, 10 000 databases, 30 000 members), printed
# against DESIGN.md's budgets. Build first: cargo build --release. Usage: scripts/bench.sh [baton]
# (RUNS=N: runs of `baton status`, default 3; BENCH_RUNS=N: runs of `baton bench`, default 1)
# Figures: the lab's start time, RSS and idle CPU; `baton status`'s time to a complete snapshot
# and peak RSS; then `baton bench`: the dashboard engine's time to list and probe the whole fleet,
# its RSS and idle CPU, and the TUI's frame render time and idle terminal output.
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
echo "fleet lab: ready line after ${ready} ms (goal 10 000 ms); all 30000 pods Ready after ${all_ready:-?} ms (goal 15 000 ms)"
echo "fleet lab: RSS ${rss} MiB (goal 1024 MiB); idle CPU $(( (t2 - t1) * 100 / hz / 10 ))% of one core (goal 10 %; 10 s, 10000 Raft groups ticking)"
# LAB_ONLY=1: the lab's figures only (for work on the lab).
[ -n "${LAB_ONLY:-}" ] && exit 0

# `baton status` is cheap enough to run several times: min and median of ${RUNS:-3} runs.
runs=${RUNS:-3}
: > "$work/secs"; : > "$work/kib"
for _ in $(seq 1 "$runs"); do
  /usr/bin/time -f '%e %M' -o "$work/time" "$baton" --kubeconfig "$work/kc" status --output json --timeout 60 > "$work/status.json" || true
  read -r secs kib < "$work/time"
  echo "$secs" >> "$work/secs"; echo "$kib" >> "$work/kib"
done
stats() { sort -g "$1" | awk '{v[NR]=$1} END {printf "min %s, median %s", v[1], v[int((NR+1)/2)]}'; }
healthy=$(grep -c '"health": "healthy"' "$work/status.json" || true)
echo "baton status (${runs} runs): complete snapshot of 10000 databases in s: $(stats "$work/secs") (goal for every member probed once: 8 s); peak RSS KiB: $(stats "$work/kib") (goal 100 MiB); ${healthy} healthy in the last run"

# The dashboard's bench: ${BENCH_RUNS:-1} runs against the same lab (each about a minute).
bench_runs=${BENCH_RUNS:-1}
for i in $(seq 1 "$bench_runs"); do
  echo
  echo "baton bench (dashboard engine + views, one process), run $i of $bench_runs (load average: $(cut -d' ' -f1-3 /proc/loadavg)):"
  BATON_DATA_DIR="$work/data2-$i" "$baton" --kubeconfig "$work/kc" bench --idle 40
done
