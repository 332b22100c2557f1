# Shared by the scripts that run baton against a small lab of their own (source it).
# start_lab BATON PROFILE_TOML: starts `baton lab serve` in $work, sets $pid and $kc, waits for
# the ready line. settle BATON DATABASE: waits until `baton status` calls the database healthy.
start_lab() {
  export BATON_DATA_DIR="$work/data"
  "$1" lab serve --profile "$2" --kubeconfig-out "$work/kc" > "$work/out" 2> "$work/err" &
  pid=$!
  kc="$work/kc"
  until grep -q '^ready ' "$work/out"; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
    sleep 0.1
  done
}
settle() {
  for _ in $(seq 1 300); do
    "$1" --kubeconfig "$kc" status --database "$2" --output json 2>/dev/null \
      | jq -e '.databases[0].health == "healthy"' > /dev/null && return 0
    sleep 0.2
  done
  echo "the database did not settle" >&2; exit 1
}
