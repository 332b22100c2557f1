#!/usr/bin/env bash
# Chaos: N rolling operations on a 3+1 Neo4j database under a steady write load, each with one
# random fault injected mid-way (kill-member, partition, stall, apiserver-down), and what it cost
# from the lab's truth: quorum losses (goal 0), failed writes, elections, and operations that
# paused (exit 1) or failed and were resumed with `baton op resume`.
# Operations in turn: rolling-restart, resize (memory 4Gi ↔ 5Gi), upgrade (5.26.0 → 5.26.1 → …,
# patch releases only, so the upgrade rules allow each), and replace-member once baton has it
# (the hook below turns it on when `baton op list` shows it available).
# Usage: [CHAOS_SURGE=1] scripts/chaos.sh [baton] [N] [seed]    (build first: cargo build [--release])
# Prints one line per operation and the totals; the per-operation log is in $CHAOS_LOG if set.
set -euo pipefail
baton=${1:-target/release/baton}
n=${2:-50}
RANDOM=${3:-$$}
log=${CHAOS_LOG:-/dev/null}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
cat > "$work/lab.toml" <<'TOML'
[[orchestra]]
name = "chaos"
[[orchestra.database]]
name = "orders"
namespace = "team-a"
primaries = 3
secondaries = 1
version = "5.26.0"
TOML
. "$(dirname "$0")/lab-lib.sh"
start_lab "$baton" "$work/lab.toml"
# Restores and replace-member read the lab's object store (its URL is in the kubeconfig).
store=$(jq -r '.extensions[] | select(.name == "baton-lab") | .extension.object_store' "$kc")
printf '[operations]\nobject_store_endpoint = "%s"\nstep_timeout = 120\n' "$store" > "$work/baton.toml"
# CHAOS_SURGE=1: the orchestra has room, so resize and upgrade add a server before removing one.
if [ -n "${CHAOS_SURGE:-}" ]; then
  printf '[orchestras.chaos]\nsurge = true\n' >> "$work/baton.toml"
fi
b() { "$baton" --kubeconfig "$kc" --config "$work/baton.toml" "$@"; }
target=(--orchestra chaos --database orders)
# A fault may miss (its pod is being replaced right then): that is part of the chaos, not an error.
fault() { b lab fault "$@" > /dev/null 2>&1 || echo "  (fault $1 missed)" >&2; }
# Waits up to 2 minutes for the database to be healthy; says so when it is not, and goes on.
calm() {
  for _ in $(seq 1 600); do
    b status --database orders --output json 2>/dev/null \
      | jq -e '.databases[0].health == "healthy"' > /dev/null && return 0
    sleep 0.2
  done
  echo "  the database did not settle within 2 minutes" >&2
}
report() { b lab report --json | jq '.databases[] | select(.database == "chaos/team-a/orders")'; }
pods=(orders-1-0 orders-2-0 orders-3-0 orders-rr-1-0)
voters=(orders-1-0 orders-2-0 orders-3-0)
# The members as they are now: surge renames them (orders-4-0 replaces orders-1-0, …).
members_now() {
  local names
  names=$(kubectl --kubeconfig "$kc" --context chaos -n team-a get pods -l helm.neo4j.com/instance \
    -o jsonpath='{.items[*].metadata.name}' 2>/dev/null) || return 0
  [ -n "$names" ] || return 0
  read -r -a pods <<< "$names"
  voters=()
  for p in "${pods[@]}"; do [[ $p == *-rr-* ]] || voters+=("$p"); done
}
pick() { local a=("$@"); echo "${a[RANDOM % ${#a[@]}]}"; }

# The replace-member hook: on once `baton op list` lists it as available.
ops=(rolling-restart resize upgrade)
if b op list | grep -E '^replace-member ' | grep -vq 'not in this version'; then
  ops+=(replace-member)
fi

settle "$baton" orders
start=$(report)
memory=4Gi patch=0 paused=0 resumed=0 failed_ops=0 done_ops=0 doubles=0 lost_double=0 lost_single=0
for i in $(seq 1 "$n"); do
  calm
  members_now
  op=${ops[$(( (i - 1) % ${#ops[@]} ))]}
  case $op in
    resize) memory=$([ "$memory" = 4Gi ] && echo 5Gi || echo 4Gi); args=(--set "memory=$memory") ;;
    upgrade) patch=$((patch + 1)); args=(--set "version=5.26.$patch") ;;
    replace-member) args=(--member "$(pick "${voters[@]}")") ;;
    *) args=() ;;
  esac
  q0=$(report | jq '.quorum_lost_events')
  b op "$op" "${target[@]}" "${args[@]}" --yes > "$work/op.out" 2>&1 & opid=$!
  # The fault, mid-way: 0–4 s after the operation's first step (a rolling operation on the
  # lab's 4 members takes 5–10 s).
  for _ in $(seq 1 100); do
    grep -q '^step 1 ' "$work/op.out" && break
    kill -0 "$opid" 2>/dev/null || break
    sleep 0.1
  done
  sleep "$(( RANDOM % 4 )).$(( RANDOM % 10 ))"
  f=$(pick kill-member partition stall apiserver-down)
  victim=$(pick "${pods[@]}")
  n0=$(wc -l < "$work/op.out")
  case $f in
    kill-member) fault kill-member --orchestra chaos -n team-a --pod "$victim"; n1=$(wc -l < "$work/op.out") ;;
    partition) fault partition --orchestra chaos -n team-a --pod "$victim"; n1=$(wc -l < "$work/op.out"); sleep 3
               fault heal --orchestra chaos -n team-a --pod "$victim" ;;
    stall) fault stall --orchestra chaos -n team-a --pod "$victim" --seconds 3; n1=$(wc -l < "$work/op.out") ;;
    apiserver-down) victim=apiserver; fault apiserver-down --orchestra chaos; n1=$(wc -l < "$work/op.out"); sleep 3
                    fault apiserver-up --orchestra chaos ;;
  esac
  # Whether baton had a voter of its own out when the fault landed: a step begun and not done
  # before the fault call, or begun while it was on its way (`n1`, taken as the fault call
  # returned — a step baton begins after that, with the fault visible, is not excused). A fault
  # on another voter then leaves one of three: a double fault an in-place roll cannot ride out.
  busy=$( { head -n "$n0" "$work/op.out" | grep -E '^step [0-9]+ ' | tail -1
            if [ "$n1" -gt "$n0" ]; then sed -n "$((n0 + 1)),${n1}p" "$work/op.out" | grep -E '^step [0-9]+ '; fi; } \
          | grep -v ' done in ' | grep -oE 'orders-[123](-0)? ' | sed -E 's/(-0)? $/-0/' | sort -u | tr '\n' ' ' || true)
  double=no
  if [ "$f" != apiserver-down ] && [[ $victim != orders-rr-* ]]; then
    for v in $busy; do
      if [ "$v" != "$victim" ]; then double=yes; fi
    done
  fi
  set +e; wait "$opid"; code=$?; set -e
  outcome=$code tries=0
  # Paused (timeout), failed or cut off by the fault: resume until it is done (at most 5 times).
  while [ "$code" != 0 ] && [ "$tries" -lt 5 ]; do
    [ "$tries" = 0 ] && { [ "$code" = 1 ] && paused=$((paused + 1)) || failed_ops=$((failed_ops + 1)); }
    tries=$((tries + 1))
    calm
    set +e; b op resume "${target[@]}" --yes > "$work/r.out" 2>&1; code=$?; set -e
    cat "$work/r.out" >> "$work/op.out"
    # Nothing to resume (it failed and released the lock): the operation is run again; a
    # reconcile loop skips what is already done.
    if grep -q 'no interrupted operation' "$work/r.out"; then
      set +e; b op "$op" "${target[@]}" "${args[@]}" --yes >> "$work/op.out" 2>&1; code=$?; set -e
    fi
  done
  [ "$tries" -gt 0 ] && [ "$code" = 0 ] && resumed=$((resumed + 1))
  [ "$code" = 0 ] && done_ops=$((done_ops + 1))
  now=$(report)
  lost=$(( $(jq '.quorum_lost_events' <<< "$now") - q0 ))
  if [ "$double" = yes ]; then
    doubles=$((doubles + 1)); lost_double=$((lost_double + lost))
  else
    lost_single=$((lost_single + lost))
  fi
  printf 'op %3d %-15s fault %-14s on %-14s baton acting on %-12sexit %s → %s after %d resume(s); quorum lost %d (total %s), failed writes %s\n' \
    "$i" "$op" "$f" "$victim" "${busy:-nothing }" "$outcome" "$code" "$tries" "$lost" \
    "$(jq '.quorum_lost_events' <<< "$now")" "$(jq '.writes_failed' <<< "$now")"
  { echo "== op $i $op ${args[*]} fault $f $victim"; cat "$work/op.out"; } >> "$log"
done
end=$(report)
d() { echo $(( $(jq ".$1" <<< "$end") - $(jq ".$1" <<< "$start") )); }
echo "operations: $n (${ops[*]}); done: $done_ops; paused: $paused; failed or cut off: $failed_ops; resumed to done: $resumed"
echo "quorum losses: $(d quorum_lost_events) (goal 0): $lost_single with at most one voter out by fault or by baton, $lost_double in the $doubles double faults (the fault on a voter while baton had another voter out)"
echo "failed writes: $(d writes_failed) of $(( $(d writes_failed) + $(d writes_ok) )); elections: $(d elections); leaderless: $(d leaderless_ms) ms"
