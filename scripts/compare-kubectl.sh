#!/usr/bin/env bash
# baton next to the tool a user would otherwise leave running: one orchestra of 1 000 databases
# (3 000 pods) watched for the same 60 s by the dashboard (open on the databases view, in tmux at
# 200×60) and by `kubectl get pods -A -w`. Prints RSS and CPU of both and baton's ratio to kubectl.
# Build first: cargo build --release. Usage: scripts/compare-kubectl.sh [baton] [seconds]
set -euo pipefail
baton=$(realpath "${1:-target/release/baton}")
secs=${2:-60}
work=$(mktemp -d)
sock="baton-compare-$$"
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "${kpid:-}" ] && kill "$kpid" 2>/dev/null || true
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/lab-lib.sh
. "$(dirname "$0")/lab-lib.sh"

{
  echo 'services = false'
  echo 'pod_ips = false'
  echo 'events_per_orchestra = 0'
  echo 'raft_tick_ms = 1000'
  echo 'writes_per_second = 0.0'
  echo 'fast_start = true'
  echo '[[orchestra]]'
  echo 'name = "big-1"'
  for i in $(seq -w 0 999); do
    echo '[[orchestra.database]]'
    echo "name = \"db-$i\""
    echo "namespace = \"tenant-$(( 10#$i % 20 ))\""
  done
} > "$work/profile.toml"
start_lab "$baton" "$work/profile.toml"
# Every pod listed Ready before measuring.
for _ in $(seq 1 240); do
  n=$(kubectl --kubeconfig "$kc" get pods -A --no-headers 2>/dev/null | grep -c ' 1/1 ' || true)
  [ "$n" -ge 3000 ] && break
  sleep 0.5
done
echo "lab: ${n:-0} pods Ready"

tmux -L "$sock" -f /dev/null new-session -d -x 200 -y 60 -s main \
  "BATON_DATA_DIR=$work/tui XDG_CONFIG_HOME=$work/cfg $baton --kubeconfig $kc; sleep 600"
kubectl --kubeconfig "$kc" --cache-dir "$work/kcache" get pods -A -w > /dev/null 2>&1 &
kpid=$!
# The dashboard on the databases view once the orchestra is live.
for _ in $(seq 1 120); do
  tmux -L "$sock" capture-pane -p -t main | grep -q 'live' && break
  sleep 0.5
done
tmux -L "$sock" send-keys -t main d
shell=$(tmux -L "$sock" display-message -p -t main '#{pane_pid}')
bpid=$(pgrep -P "$shell" | head -1)
sleep 10 # both past their first list

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
b1=$(ticks "$bpid"); k1=$(ticks "$kpid")
bmax=0; kmax=0
for _ in $(seq 1 "$secs"); do
  b=$(rss "$bpid"); k=$(rss "$kpid")
  [ "$b" -gt "$bmax" ] && bmax=$b
  [ "$k" -gt "$kmax" ] && kmax=$k
  sleep 1
done
b2=$(ticks "$bpid"); k2=$(ticks "$kpid")
hz=$(getconf CLK_TCK)
bcpu=$(awk -v t=$(( b2 - b1 )) -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.2f", t * 100 / hz / s}')
kcpu=$(awk -v t=$(( k2 - k1 )) -v hz="$hz" -v s="$secs" 'BEGIN {printf "%.2f", t * 100 / hz / s}')
echo "over ${secs} s, one orchestra of 3000 pods:"
printf '  %-28s RSS %5d MiB   CPU %6s %% of a core\n' "baton (databases view)" "$bmax" "$bcpu"
printf '  %-28s RSS %5d MiB   CPU %6s %% of a core\n' "kubectl get pods -A -w" "$kmax" "$kcpu"
awk -v b="$bmax" -v k="$kmax" -v bc="$bcpu" -v kc="$kcpu" 'BEGIN {
  printf "  ratio baton/kubectl: RSS %.2f×, CPU %s\n", b / (k > 0 ? k : 1),
    (kc > 0 ? sprintf("%.2f×", bc / kc) : "kubectl used no measurable CPU")
}'
