#!/usr/bin/env bash
# Makes screenshots/*.png from the real binary on the embedded demo lab: `baton lab` runs in tmux
# at 200x60 (and 80x24), keys are sent as a person would type them, `tmux capture-pane -e` keeps
# the colours, aha turns the ANSI text into HTML and headless Chromium renders it to PNG.
# Needs: tmux, aha, chromium (Debian packages). Usage: scripts/screenshots.sh [path/to/baton]
set -euo pipefail
cd "$(dirname "$0")/.."
baton=${1:-target/release/baton}
[ -x "$baton" ] || cargo build --release
for tool in tmux aha chromium; do
  command -v "$tool" >/dev/null || { echo "screenshots: $tool is missing (apt-get install $tool)" >&2; exit 2; }
done
work=$(mktemp -d)
sock="baton-shots-$$"
t() { tmux -L "$sock" -f /dev/null "$@"; }
trap 't kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

wait_for() { # text, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    t capture-pane -p -t shots | grep -q -- "$1" && return 0
    sleep 0.1
  done
  echo "screenshots: '$1' never appeared; screen:" >&2
  t capture-pane -p -t shots >&2
  exit 1
}

shoot() { # name, columns, rows
  local name=$1 cols=$2 rows=$3
  t capture-pane -e -p -t shots > "$work/$name.ansi"
  # aha --black draws black text as dim grey (for black backgrounds); on a coloured background
  # (the selected row: black on cyan) it must stay black as in the terminal.
  aha --black --no-header < "$work/$name.ansi" \
    | sed 's/color:dimgray;background-color:/color:#000;background-color:/g' > "$work/$name.body"
  {
    echo '<!doctype html><html><head><meta charset="utf-8"><style>'
    echo 'body{margin:0;background:#000;color:#ddd}'
    echo 'pre{margin:8px;font-family:"DejaVu Sans Mono",monospace;font-size:14px;line-height:17px}'
    echo '</style></head><body><pre>'
    cat "$work/$name.body"
    echo '</pre></body></html>'
  } > "$work/$name.html"
  # DejaVu Sans Mono at 14px is 8.43px wide.
  local w=$(( cols * 843 / 100 + 16 )) h=$(( rows * 17 + 16 ))
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="$w,$h" --screenshot="$PWD/screenshots/$name.png" "file://$work/$name.html" \
    >/dev/null 2>&1
  echo "screenshots/$name.png"
}

session() { # columns rows
  t kill-server 2>/dev/null || true
  sock="baton-shots-$$-$1"
  t new-session -d -x "$1" -y "$2" -s shots \
    "TERM=xterm-256color BATON_DATA_DIR=$work/data-$1 $baton lab"
  wait_for "live" 60
  sleep 4   # first probes of every database
}

mkdir -p screenshots
session 200 60
shoot fleet 200 60
t send-keys -t shots d; sleep 1
shoot databases 200 60
t send-keys -t shots / o r d e r s Enter; sleep 0.5; t send-keys -t shots Enter
wait_for "LEADER" 10; sleep 1
shoot profile 200 60
t send-keys -t shots '?'; sleep 0.5
shoot help 200 60
t send-keys -t shots Escape; sleep 0.3

# An operation: the confirmation (preflight, plan, the id typed), then its progress pane mid-run
# and done. The first row of the menu that can run is the rolling restart.
db=aws-eu-west-1/team-commerce/orders
t send-keys -t shots -l ":db $db"; t send-keys -t shots Enter
wait_for "LEADER" 10
t send-keys -t shots o
wait_for "Operations · $db" 10
t send-keys -t shots Enter
wait_for "type the database id" 20
t send-keys -t shots -l "$db"
wait_for "✓ matches" 5
shoot operation-confirm 200 60
t send-keys -t shots Enter
wait_for "✓ 1 " 60
shoot operation-running 200 60
wait_for "rolling-restart · done" 180
shoot operation-done 200 60

# A campaign over the list's filter: its plan with the typed confirmation, then :campaigns while
# it runs (its canary soaks 30 s).
t send-keys -t shots Escape; sleep 0.3
t send-keys -t shots d; sleep 0.5
# The filter of the earlier shots is cleared first (Esc in the filter line).
t send-keys -t shots /; t send-keys -t shots Escape; t send-keys -t shots /
t send-keys -t shots -l "profile:neo4j"; t send-keys -t shots Enter; t send-keys -t shots C
wait_for "over the databases the filter" 10
t send-keys -t shots -l rolling-restart; t send-keys -t shots Tab Tab
t send-keys -t shots -l demo-rr; t send-keys -t shots Tab Tab BSpace BSpace BSpace
t send-keys -t shots -l 30s; t send-keys -t shots Enter
wait_for "to start it: demo-rr" 10
typed=$(t capture-pane -p -t shots | grep -o 'to start it: demo-rr [0-9]*' | sed 's/to start it: //')
t send-keys -t shots -l "$typed"
wait_for "✓ matches" 5
shoot campaign-plan 200 60
t send-keys -t shots Enter
wait_for "demo-rr.*running" 60
sleep 8
shoot campaigns 200 60

session 80 24
t send-keys -t shots d; sleep 1
shoot databases-80x24 80 24
# The progress pane at 80x24: a restart of one member (a follower; y/n), mid-run.
t send-keys -t shots Escape; sleep 0.3
t send-keys -t shots -l ":db aws-eu-west-1/team-commerce/catalog"; t send-keys -t shots Enter
wait_for "LEADER" 10
shoot profile-80x24 80 24
t send-keys -t shots j o
wait_for "Operations ·" 10
t send-keys -t shots j Enter
wait_for "y run" 20
t send-keys -t shots y
wait_for "restart-member · " 10
wait_for "step 1:" 30
shoot operation-80x24 80 24
