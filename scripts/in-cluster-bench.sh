#!/usr/bin/env bash
# In-cluster operations against local ones, on a small lab (one orchestra, one 3-member Neo4j
# database) whose kubelet runs baton's runner image as this baton executable. Alternating
# rounds: a local rolling restart (`baton op rolling-restart --yes`), then the same launched
# `--in-cluster` (a runner Job under the ServiceAccount `baton op rbac` describes, applied with
# the real kubectl). Figures: time from confirm to the Job's first step (the Lease's step 1), and
# each rolling restart's duration; the in-cluster overhead against DESIGN.md's budget (≤ 10 %
# plus the Job's start).
# Usage: scripts/in-cluster-bench.sh [baton] [rounds]    (build first: cargo build --release)
set -euo pipefail
baton=${1:-target/release/baton}
rounds=${2:-3}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/lab.toml" <<'TOML'
[[orchestra]]
name = "bench"
[[orchestra.database]]
name = "orders"
namespace = "team-a"
primaries = 3
TOML
cat > "$work/baton.toml" <<'TOML'
[operations]
runner_image = "ghcr.io/baton-sre/baton:latest"
TOML
. "$(dirname "$0")/lab-lib.sh"
start_lab "$baton" "$work/lab.toml"
b() { "$baton" --kubeconfig "$kc" --config "$work/baton.toml" "$@"; }
k() { kubectl --kubeconfig "$kc" --context bench -n team-a "$@"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# The record on the Lease: "<state> <step>".
lease() {
  k get lease baton-op-orders -o json 2>/dev/null \
    | jq -r '.metadata.annotations["baton.io/operation"] // "{}" | fromjson | "\(.state // "none") \(.step // 0) \(.started_ms // 0)"' \
    || echo "none 0 0"
}
b op rbac --namespace team-a | k apply --validate=false -f - > /dev/null
settle "$baton" orders

locals=(); clusters=(); starts=(); overheads=()
for round in $(seq 1 "$rounds"); do
  settle "$baton" orders
  t0=$(now_ms)
  b op rolling-restart --orchestra bench --database orders --local --yes > "$work/local.$round" 2>&1
  local_ms=$(( $(now_ms) - t0 ))
  settle "$baton" orders
  read -r _ _ before <<< "$(lease)"
  t0=$(now_ms)
  b op rolling-restart --orchestra bench --database orders --in-cluster --yes > "$work/cluster.$round" 2>&1 &
  launcher=$!
  first=
  while kill -0 "$launcher" 2>/dev/null; do
    read -r state step started <<< "$(lease)"
    if [ -z "$first" ] && [ "$started" != "$before" ] && [ "$step" -ge 1 ]; then
      first=$(( $(now_ms) - t0 ))
    fi
    sleep 0.05
  done
  wait "$launcher" || { echo "round $round: the in-cluster run failed:" >&2; cat "$work/cluster.$round" >&2; exit 1; }
  cluster_ms=$(( $(now_ms) - t0 ))
  read -r state _ _ <<< "$(lease)"
  [ "$state" = done ] || { echo "round $round: the Lease says $state" >&2; exit 1; }
  locals+=("$local_ms"); clusters+=("$cluster_ms"); starts+=("${first:-0}")
  overheads+=("$(( (cluster_ms - local_ms) * 100 / local_ms ))")
  echo "round $round: local ${local_ms} ms; in-cluster ${cluster_ms} ms (first step after ${first:-?} ms); overhead $(( (cluster_ms - local_ms) * 100 / local_ms )) %"
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %s, median %s", a[1], a[int((NR+1)/2)]}'; }
echo
echo "rolling restart of 3 members, local against in-cluster (a runner Job), alternating"
echo "  local (ms):                       $(stats "${locals[@]}")"
echo "  in-cluster (ms):                  $(stats "${clusters[@]}")"
echo "  confirm to the Job's first step:  $(stats "${starts[@]}") ms"
echo "  in-cluster overhead (%):          $(stats "${overheads[@]}")   budget: <= 10 % plus the Job's start"
