#!/usr/bin/env bash
# Two `baton op` processes started together on one database, N times (default 100): exactly one
# may run, the other must exit 3 (lock held). Prints how many races ended so.
# Usage: scripts/op-race.sh [baton] [races]    (build first: cargo build --release)
set -euo pipefail
baton=${1:-target/release/baton}
races=${2:-100}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/lab.toml" <<'TOML'
[[orchestra]]
name = "race"
[[orchestra.database]]
name = "orders"
namespace = "team-a"
primaries = 3
secondaries = 1
TOML
. "$(dirname "$0")/lab-lib.sh"
start_lab "$baton" "$work/lab.toml"
op=("$baton" --kubeconfig "$work/kc" op restart-member --orchestra race --database orders --member orders-rr-1-0 --yes)
good=0
for i in $(seq 1 "$races"); do
  settle "$baton" orders
  "${op[@]}" > "$work/a" 2>&1 & a=$!
  "${op[@]}" > "$work/b" 2>&1 & b=$!
  set +e; wait "$a"; ca=$?; wait "$b"; cb=$?; set -e
  if { [ "$ca" = 0 ] && [ "$cb" = 3 ]; } || { [ "$ca" = 3 ] && [ "$cb" = 0 ]; }; then
    good=$((good + 1))
  else
    echo "race $i: exit codes $ca and $cb" >&2; cat "$work/a" "$work/b" >&2
  fi
done
echo "races: $races; exactly one of two ran in $good ($(( good * 100 / races )) %)"
