#!/usr/bin/env bash
# In-cluster operations against local ones, on a small lab (one orchestra, one 3-member Neo4j
# database) whose kubelet runs baton's runner image as this baton executable. Alternating
# rounds: a local rolling restart (`baton op rolling-restart --yes`), then the same launched
# `--in-cluster` (a runner Job under the ServiceAccount `baton op rbac` describes, applied with
# the real kubectl). Figures, from the Lease: time from confirm to the first step, and each
# roll from its first step to the Lease saying done; the in-cluster overhead against DESIGN.md's
# budget (≤ 10 % plus the Job's start).
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

# measure ARGS…: runs `baton op rolling-restart … ARGS` in the background and watches the Lease;
# sets $first (confirm → step 1) and $done (confirm → the Lease says done), in ms.
measure() {
  local before t0 launcher state step started
  read -r _ _ before <<< "$(lease)"
  t0=$(now_ms); first=; done=
  b op rolling-restart --orchestra bench --database orders --yes "$@" > "$work/run.log" 2>&1 &
  launcher=$!
  while [ -z "$done" ]; do
    read -r state step started <<< "$(lease)"
    if [ "$started" != "$before" ]; then
      [ -z "$first" ] && [ "$step" -ge 1 ] && first=$(( $(now_ms) - t0 ))
      [ "$state" = done ] && done=$(( $(now_ms) - t0 ))
      case "$state" in failed|cancelled|paused) echo "the run ended $state:" >&2; cat "$work/run.log" >&2; exit 1;; esac
    fi
    if ! kill -0 "$launcher" 2>/dev/null && [ -z "$done" ]; then
      read -r state _ started <<< "$(lease)"
      [ "$started" != "$before" ] && [ "$state" = done ] && done=$(( $(now_ms) - t0 )) && break
      wait "$launcher" || true; echo "the run ended early:" >&2; cat "$work/run.log" >&2; exit 1
    fi
    sleep 0.05
  done
  wait "$launcher" || { echo "the launcher failed:" >&2; cat "$work/run.log" >&2; exit 1; }
}

local_runs=(); cluster_runs=(); local_starts=(); cluster_starts=(); overheads=()
for round in $(seq 1 "$rounds"); do
  settle "$baton" orders
  measure --local
  lf=$first; ld=$done
  settle "$baton" orders
  measure --in-cluster
  cf=$first; cd=$done
  # The roll itself (step 1 → done) here and in the Job; the Job's start is counted apart.
  lr=$(( ld - lf )); cr=$(( cd - cf ))
  local_runs+=("$lr"); cluster_runs+=("$cr"); local_starts+=("$lf"); cluster_starts+=("$cf")
  overheads+=("$(( (cr - lr) * 100 / lr ))")
  echo "round $round: local: first step ${lf} ms, roll ${lr} ms; in-cluster: first step ${cf} ms, roll ${cr} ms; overhead $(( (cr - lr) * 100 / lr )) % (+ the Job's start $(( cf - lf )) ms)"
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %s, median %s", a[1], a[int((NR+1)/2)]}'; }
echo
echo "rolling restart of 3 members, local against in-cluster (a runner Job), alternating"
echo "  confirm to first step, local (ms):      $(stats "${local_starts[@]}")"
echo "  confirm to first step, in-cluster (ms): $(stats "${cluster_starts[@]}")"
echo "  the roll (step 1 to done), local (ms):       $(stats "${local_runs[@]}")"
echo "  the roll (step 1 to done), in-cluster (ms):  $(stats "${cluster_runs[@]}")"
echo "  in-cluster overhead (%):                $(stats "${overheads[@]}")   budget: <= 10 % plus the Job's start"
