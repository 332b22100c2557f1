#!/usr/bin/env bash
# Campaign throughput at fleet scale, on the fleet lab (200 orchestras, 10 000 databases). Build
# first: cargo build --release. Usage: scripts/campaign-bench.sh [baton]
# 1. The plan over all 10 000 databases: its time (goal: computed and shown in 2 s).
# 2. The mean time of one rolling restart alone on this lab (three databases outside the
#    campaign, one after the other): the bound is max_parallel / that mean.
# 3. A rolling-restart campaign over 1 000 databases (20 on each of 50 orchestras) with
#    --max-parallel 50 --max-per-orchestra 2 (canary 1, no soak, one wave): databases per minute
#    from the first start after the canary to the last end, against the bound (goal: 80 %), and
#    the coordinator's CPU and peak RSS.
# ORCHESTRAS=N and PER=20|15|10|5 change the campaign's size (defaults 50 and 20).
set -euo pipefail
baton=${1:-target/release/baton}
orchestras=${ORCHESTRAS:-50}
per=${PER:-20}
parallel=${PARALLEL:-50}
work=$(mktemp -d)
pid=
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
export BATON_DATA_DIR="$work/data"
BATON_DATA_DIR="$work/lab" "$baton" lab serve --profile fleet --kubeconfig-out "$work/kc" > "$work/lab.out" 2> "$work/lab.err" &
pid=$!
until grep -q '^ready ' "$work/lab.out" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/lab.err"; exit 1; }
  sleep 0.2
done
for _ in $(seq 1 240); do
  grep -q 'every pod is ready' "$work/lab/logs/baton.log" 2>/dev/null && break
  sleep 0.5
done
b() { "$baton" --kubeconfig "$work/kc" "$@"; }

# 1. The plan over the whole fleet (release build).
start=$(date +%s%N)
b campaign plan rolling-restart --max-parallel 50 --max-per-orchestra 2 > "$work/plan.txt"
plan_ms=$(( ($(date +%s%N) - start) / 1000000 ))
listed=$(grep -o 'fleet listed in [0-9.]* s, planned in [0-9]* ms' "$work/plan.txt")
echo "plan over 10 000 databases: ${plan_ms} ms in all ($listed; goal 2 000 ms)"

# 2. One rolling restart alone, three times (orchestras past the campaign's, namespace tenant-09).
mapfile -t contexts < <(kubectl --kubeconfig "$work/kc" config get-contexts -o name | grep -v -- "-observer$" | sort)
total=0
for i in 1 2 3; do
  c=${contexts[$((orchestras + i))]}
  n=${c##*-}
  db="db-${n}-09"
  start=$(date +%s%N)
  b op rolling-restart --orchestra "$c" --database "$db" --yes > /dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "one rolling restart alone: $c/$db in ${ms} ms"
  total=$((total + ms))
done
mean_ms=$((total / 3))

# 3. The campaign: 50 orchestras, 20 databases each (namespaces tenant-00 … tenant-03).
ctx=()
for c in "${contexts[@]:0:$orchestras}"; do ctx+=(--context "$c"); done
keep=$((per / 5))
select=""
for ns in $(seq "$keep" 9); do select="$select !namespace:tenant-0$ns"; done
/usr/bin/time -f "%e %U %S %M" -o "$work/time" \
  "$baton" --kubeconfig "$work/kc" "${ctx[@]}" campaign start rolling-restart --select "$select" \
  --canary 1 --soak 0s --waves 100% --max-parallel "$parallel" --max-per-orchestra 2 \
  --name fleet-bench --yes --output json > "$work/events.jsonl" 2> "$work/campaign.err" || true
python3 - "$work/events.jsonl" "$work/time" "$mean_ms" "$parallel" <<'PY'
import json, sys
events = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue  # the plan, printed first (pretty JSON)
    if isinstance(e, dict) and "event" in e:
        events.append(e)
elapsed, user, sys_s, rss_kb = open(sys.argv[2]).read().split()[-4:]
mean_ms, parallel = int(sys.argv[3]), int(sys.argv[4])
db = [e for e in events if e.get("event") == "database"]
starts = [e["at_ms"] for e in db if e["state"] == "running"]
ends = [e["at_ms"] for e in db if e["state"] in ("done", "failed", "skipped")]
states = {}
for e in db:
    states[e["database"]] = e["state"]
counts = {s: list(states.values()).count(s) for s in set(states.values())}
end = [e for e in events if e.get("event") == "end"]
print(f"campaign: {len(states)} databases, {counts}; ended {end[-1]['phase'] if end else '?'}")
if len(starts) > 1 and ends:
    first, last = sorted(starts)[1], max(ends)
    n = len(starts) - 1
    per_min = n / ((last - first) / 60000)
    bound = parallel / (mean_ms / 60000)
    print(f"throughput after the canary: {n} databases in {(last - first) / 1000:.1f} s = {per_min:.0f}/min; "
          f"bound {parallel} / {mean_ms / 1000:.1f} s = {bound:.0f}/min; {100 * per_min / bound:.0f} % of it (goal 80 %)")
cpu = float(user) + float(sys_s)
print(f"coordinator: {float(elapsed):.1f} s wall, {cpu:.1f} s CPU ({100 * cpu / float(elapsed):.0f} % of a core), peak RSS {int(rss_kb) // 1024} MiB")
PY
tail -3 "$work/campaign.err" || true
