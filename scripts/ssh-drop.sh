#!/usr/bin/env bash
# An in-cluster operation outlives a dropped SSH session, for real: an sshd on loopback (port
# 2222, a throw-away host key and client key), a lab whose kubelet runs baton's runner image as
# this baton, the runner RBAC applied with kubectl; then `ssh … baton op rolling-restart
# --in-cluster --yes` and, once the runner Job has taken its first step, the ssh client is
# killed (kill -9). The Job finishes the rolling restart: every pod new, no quorum lost, the
# Lease done, held by the Job. Needs openssh-server (apt-get install openssh-server) and jq.
# Usage: scripts/ssh-drop.sh [baton]    (build first: cargo build --release)
set -euo pipefail
baton=$(realpath "${1:-target/release/baton}")
work=$(mktemp -d)
sshd_pid=
trap 'kill "$pid" "$sshd_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
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
k() { kubectl --kubeconfig "$kc" --context bench -n team-a "$@"; }
lease() {
  k get lease baton-op-orders -o json 2>/dev/null \
    | jq -r '"\(.spec.holderIdentity // "-") " + (.metadata.annotations["baton.io/operation"] // "{}" | fromjson | "\(.state // "none") \(.step // 0)")' \
    || echo "- none 0"
}
uids() { k get pods -l helm.neo4j.com/neo4j.name=orders -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.uid}{"\n"}{end}' | sort; }
"$baton" op rbac --namespace team-a | k apply --validate=false -f - > /dev/null
settle "$baton" orders
before=$(uids)

# sshd on loopback with its own keys; the client logs in as this user with a fresh key.
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
cp "$work/client_key.pub" "$work/authorized_keys"
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -p 2222 -o ListenAddress=127.0.0.1 -h "$work/host_key" \
  -o AuthorizedKeysFile="$work/authorized_keys" -o StrictModes=no -o PasswordAuthentication=no \
  -o PidFile="$work/sshd.pid" 2> "$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 1 50); do ssh-keyscan -p 2222 127.0.0.1 > /dev/null 2>&1 && break; sleep 0.1; done
remote="cd $PWD && BATON_DATA_DIR=$work/remote-data $baton --kubeconfig $kc --config $work/baton.toml op rolling-restart --orchestra bench --database orders --in-cluster --yes"
ssh -p 2222 -i "$work/client_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
  "$(id -un)@127.0.0.1" "$remote" > "$work/ssh.out" 2>&1 &
ssh_pid=$!
echo "ssh session started (pid $ssh_pid): $remote"
until read -r holder state step <<< "$(lease)" && [[ "$holder" == job/* ]] && [ "$step" -ge 1 ]; do
  kill -0 "$ssh_pid" 2>/dev/null || { echo "the ssh session ended early:"; cat "$work/ssh.out"; exit 1; }
  sleep 0.05
done
echo "the runner Job took step $step as $holder; killing the ssh client (kill -9)"
kill -9 "$ssh_pid"; wait "$ssh_pid" 2>/dev/null || true
echo "--- what the ssh session printed before it was cut:"; cat "$work/ssh.out"; echo "---"
for _ in $(seq 1 1200); do
  read -r holder state step <<< "$(lease)"
  [ "$state" = done ] && break
  [ "$state" = failed ] || [ "$state" = cancelled ] && { echo "the operation ended $state"; exit 1; }
  sleep 0.1
done
echo "Lease: holder $holder, state $state, step $step"
[ "$state" = done ] || { echo "not done"; exit 1; }
settle "$baton" orders
after=$(uids)
same=$(comm -12 <(echo "$before") <(echo "$after") | wc -l)
echo "pods with the same UID as before: $same of $(echo "$before" | wc -l)"
"$baton" --kubeconfig "$kc" lab report --json | jq -r '.databases[] | select(.database == "bench/team-a/orders") | "quorum lost events: \(.quorum_lost_events), elections: \(.elections), failed writes: \(.writes_failed)"'
"$baton" --kubeconfig "$kc" op status
[ "$same" = 0 ] && echo "OK: the operation outlived its SSH session"
