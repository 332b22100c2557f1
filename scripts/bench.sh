#!/usr/bin/env bash
# Benchmarks on the fleet profile (200 orchestras, 10 000 databases, 30 000 members), printed
# against DESIGN.md's budgets. Build first: cargo build --release. Usage: scripts/bench.sh [baton]
# (LAB_RUNS=N: lab starts measured, default 1; RUNS=N: runs of `baton status`, default 3;
# BENCH_RUNS=N: runs of `baton bench`, default 3; each figure of several runs as min and median)
# Figures: the lab's start time, RSS and idle CPU; `baton status`'s time to a complete snapshot
# and peak RSS; then `baton bench`: the dashboard engine's time to list and probe the whole fleet,
# its RSS and idle CPU at the default background interval (60 s) and at 25 s (each measured over two
# intervals after one settling), and the TUI's frame render time and idle terminal output.
set -euo pipefail
baton=${1:-target/release/baton}
work=$(mktemp -d)
pid=
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# min and median of the numbers in file $1.
stats() { sort -g "$1" | awk '{v[NR]=$1} END {printf "min %s, median %s", v[1], v[int((NR+1)/2)]}'; }

# One lab start: its ready line, all pods Ready, then RSS and idle CPU once settled. The last
# lab stays up for the rest of the figures.
lab_start() {
  local data=$1
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -f "$work/out" "$work/err"
  local start
  start=$(date +%s%N)
  BATON_DATA_DIR="$data" "$baton" lab serve --profile fleet --kubeconfig-out "$work/kc" > "$work/out" 2> "$work/err" &
  pid=$!
  until grep -q '^ready ' "$work/out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
    sleep 0.1
  done
  echo $(( ($(date +%s%N) - start) / 1000000 )) >> "$work/lab_ready"
  for _ in $(seq 1 120); do
    grep -q 'every pod is ready' "$data/logs/baton.log" 2>/dev/null && break
    sleep 0.5
  done
  grep -o 'every pod is ready pods=[0-9]* elapsed_ms=[0-9]*' "$data/logs/baton.log" | sed 's/.*elapsed_ms=//' >> "$work/lab_all" || echo 0 >> "$work/lab_all"
  sleep 5
  local t1 t2 hz
  t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  sleep 10
  t2=$(awk '{print $14+$15}' "/proc/$pid/stat")
  hz=$(getconf CLK_TCK)
  awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status" >> "$work/lab_rss"
  echo $(( (t2 - t1) * 100 / hz / 10 )) >> "$work/lab_cpu"
}
lab_runs=${LAB_RUNS:-1}
: > "$work/lab_ready"; : > "$work/lab_all"; : > "$work/lab_rss"; : > "$work/lab_cpu"
for i in $(seq 1 "$lab_runs"); do lab_start "$work/data-$i"; done
echo "fleet lab (${lab_runs} start(s), load average $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "  ready line after ms: $(stats "$work/lab_ready") (goal 10 000 ms); all 30000 pods Ready after ms: $(stats "$work/lab_all") (goal 15 000 ms)"
echo "  RSS MiB: $(stats "$work/lab_rss") (goal 1024 MiB); idle CPU % of one core: $(stats "$work/lab_cpu") (goal 10 %; 10 s, 10000 Raft groups ticking)"
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
healthy=$(grep -c '"health": "healthy"' "$work/status.json" || true)
echo "baton status (${runs} runs): complete snapshot of 10000 databases in s: $(stats "$work/secs") (goal for every member probed once: 8 s); peak RSS KiB: $(stats "$work/kib") (goal 100 MiB); ${healthy} healthy in the last run"

# The dashboard's bench: ${BENCH_RUNS:-3} runs against the same lab at the default background
# interval (60 s: one interval to settle, two measured, about four minutes each) and as many at
# 25 s (a prod orchestra's; under two minutes each). The first run's report is printed whole
# (with what each idle frame changed); then every figure of all runs as min and median.
bench_runs=${BENCH_RUNS:-3}
for f in listed probed rss cpu cpu25 us us25 bytes; do : > "$work/b_$f"; done
for i in $(seq 1 "$bench_runs"); do
  for bg in 60 25; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    out="$work/bench-$bg-$i"
    BATON_DATA_DIR="$work/data2-$bg-$i" "$baton" --kubeconfig "$work/kc" bench --background-interval "$bg" > "$out" 2>&1 || true
    if [ "$i" = 1 ] && [ "$bg" = 60 ]; then
      echo
      echo "baton bench (dashboard engine + views, one process), run 1 of $bench_runs at the default 60 s (load average: $load):"
      cat "$out"
    fi
    sfx=; [ "$bg" = 25 ] && sfx=25
    sed -n 's/^idle CPU \([0-9.]*\) %.*/\1/p' "$out" >> "$work/b_cpu$sfx"
    sed -n 's/^idle CPU .* \([0-9]*\) µs of CPU per probe.*/\1/p' "$out" >> "$work/b_us$sfx"
    [ "$bg" = 25 ] && continue
    sed -n 's/^every orchestra listed.* after \([0-9.]*\) s.*/\1/p' "$out" >> "$work/b_listed"
    sed -n 's/^every member probed once.* after \([0-9.]*\) s.*/\1/p' "$out" >> "$work/b_probed"
    sed -n 's/^RSS \([0-9]*\) MiB.*/\1/p' "$out" >> "$work/b_rss"
    sed -n 's/^idle terminal output: [0-9]* frames, \([0-9]*\) bytes.*/\1/p' "$out" >> "$work/b_bytes"
  done
done
echo
echo "baton bench, ${bench_runs} run(s) at each interval against the same lab:"
echo "  every orchestra listed, s: $(stats "$work/b_listed") (goal 1.5 s)"
echo "  every member probed once, s: $(stats "$work/b_probed") (goal 8 s)"
echo "  dashboard RSS, MiB: $(stats "$work/b_rss") (goal 100 MiB)"
echo "  idle CPU at background_interval 60 s (the default), % of one core: $(stats "$work/b_cpu") (goal 1 %); CPU per probe, µs: $(stats "$work/b_us")"
echo "  idle CPU at background_interval 25 s, % of one core: $(stats "$work/b_cpu25") (no goal: the price of a 25 s bound); CPU per probe, µs: $(stats "$work/b_us25")"
echo "  idle terminal output in 120 s, bytes: $(stats "$work/b_bytes") (goal 0; the clock may tick once a minute)"
