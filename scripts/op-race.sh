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
export BATON_DATA_DIR="$work/data"
"$baton" lab serve --profile "$work/lab.toml" --kubeconfig-out "$work/kc" > "$work/out" 2> "$work/err" &
pid=$!
until grep -q '^ready ' "$work/out"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
  sleep 0.1
done
op=("$baton" --kubeconfig "$work/kc" op restart-member --orchestra race --database orders --member orders-rr-1-0 --yes)
settle() {
  for _ in $(seq 1 300); do
    "$baton" --kubeconfig "$work/kc" status --database orders --output json 2>/dev/null \
      | jq -e '.databases[0].health == "healthy"' > /dev/null && return 0
    sleep 0.2
  done
  echo "the database did not settle" >&2; exit 1
}
good=0
for i in $(seq 1 "$races"); do
  settle
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
