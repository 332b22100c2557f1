#!/usr/bin/env bash
# Operations figures on a small lab (one orchestra, one 3-member Neo4j database under a steady
# write load), against DESIGN.md's budget: a rolling restart costs at most 20 % over the sum of
# its members' restart-and-catch-up times, and at most one election's worth of failed writes.
# Each round first restarts every member by hand (kubectl delete, then wait until the new pod is
# Ready and the member caught up, measured from outside baton), then runs `baton op
# rolling-restart` and compares. Prints min and median over the rounds.
# Usage: scripts/ops-bench.sh [baton] [rounds]    (build first: cargo build --release)
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
. "$(dirname "$0")/lab-lib.sh"
start_lab "$baton" "$work/lab.toml"
k() { kubectl --kubeconfig "$work/kc" --context bench -n team-a "$@"; }
report() { "$baton" --kubeconfig "$work/kc" lab report --json; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# The member is caught up: a leader exists and the member is within the lag gate (100).
caught_up() {
  report | jq -e --arg pod "$1" '
    .databases[] | select(.database == "bench/team-a/orders") as $g
    | ($g.members[] | select(.pod == $g.leader) | .applied) as $lead
    | $g.leader != null and ([$g.members[] | select(.pod == $pod and .running and ($lead - .applied) <= 100)] | length == 1)' > /dev/null
}
ready_uid() { k get pod "$1" -o jsonpath='{.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true; }
settle "$baton" orders
counts() { report | jq -r '.databases[] | select(.database == "bench/team-a/orders") | "\(.elections) \(.writes_failed) \(.quorum_lost_events)"'; }

overheads=(); failed=(); elections=(); sums=(); rolls=()
for round in $(seq 1 "$rounds"); do
  sum=0
  for pod in orders-1-0 orders-2-0 orders-3-0; do
    settle "$baton" orders
    uid0=$(ready_uid "$pod" | cut -d' ' -f1)
    t0=$(now_ms)
    k delete pod "$pod" --wait=false > /dev/null
    until read -r uid ready <<< "$(ready_uid "$pod")" && [ -n "$uid" ] && [ "$uid" != "$uid0" ] && [ "$ready" = "True" ] && caught_up "$pod"; do
      sleep 0.05
    done
    sum=$(( sum + $(now_ms) - t0 ))
  done
  settle "$baton" orders
  read -r e0 f0 q0 <<< "$(counts)"
  t0=$(now_ms)
  "$baton" --kubeconfig "$work/kc" op rolling-restart --orchestra bench --database orders --yes > "$work/op.$round" 2>&1
  roll=$(( $(now_ms) - t0 ))
  read -r e1 f1 q1 <<< "$(counts)"
  [ "$q1" = "$q0" ] || echo "round $round: quorum lost during the rolling restart!" >&2
  sums+=("$sum"); rolls+=("$roll")
  overheads+=("$(( (roll - sum) * 100 / sum ))"); failed+=("$(( f1 - f0 ))"); elections+=("$(( e1 - e0 ))")
  echo "round $round: members restarted by hand, sum ${sum} ms; rolling restart ${roll} ms; overhead $(( (roll - sum) * 100 / sum )) %; failed writes $(( f1 - f0 )); elections $(( e1 - e0 ))"
done
stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "min %s, median %s", a[1], a[int((NR+1)/2)]}'; }
echo
echo "rolling restart of 3 members vs the sum of their restart-and-catch-up times"
echo "  sum by hand (ms):        $(stats "${sums[@]}")"
echo "  rolling restart (ms):    $(stats "${rolls[@]}")"
echo "  runner overhead (%):     $(stats "${overheads[@]}")   budget: <= 20 %"
echo "  failed writes:           $(stats "${failed[@]}")   budget: one election's worth (~6 at 5 writes/s)"
echo "  elections:               $(stats "${elections[@]}")"
