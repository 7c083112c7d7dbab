#!/usr/bin/env bash
# Crash suite: maracd under a load of return submissions, killed with SIGKILL at random
# moments, restarted; then every acknowledged (2xx) submission must be readable back and
# `maracd audit verify` must pass.
#
#   scripts/crash-test.sh [ROUNDS]        (default 20; CONFIG=debug to use a debug build)
#
# The load is `marac-bench crash-load`: writers PUT /v1/requests/{id}/return continuously,
# reconnecting while the broker is down, logging each acknowledged version and summary.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
config=${CONFIG:-release}
port=${PORT:-28446}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    swift build -c "$config" --product maracd >&2
    swift build -c "$config" --product marac-bench >&2
fi
bin=$(swift build -c "$config" --show-bin-path)

work=$(mktemp -d /tmp/marac-crash-XXXXXX)
maracd_pid=""
load_pid=""
cleanup() {
    [[ -n $load_pid ]] && kill "$load_pid" 2>/dev/null || true
    [[ -n $maracd_pid ]] && kill -9 "$maracd_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

# shellcheck source=lib/broker.sh
source scripts/lib/broker.sh

"$bin/maracd" init --certs "$work/certs" >/dev/null
start_broker
url=https://127.0.0.1:$port
C=$work/certs
enrol_bench
: > "$work/acks"
"$bin/marac-bench" crash-load --url "$url" --ca "$C/ca.pem" --dir "$work/cast" --acks "$work/acks" --writers 8 --versions-per-request 90 2>"$work/load.log" &
load_pid=$!
while [[ ! -s $work/acks ]]; do sleep 0.1; kill -0 "$load_pid" || { cat "$work/load.log" >&2; exit 1; }; done

for round in $(seq "$rounds"); do
    sleep "0.$(( RANDOM % 9 + 1 ))$(( RANDOM % 10 ))"
    before=$(wc -l < "$work/acks")
    kill -9 "$maracd_pid"
    wait "$maracd_pid" 2>/dev/null || true
    start_broker
    echo "round $round: SIGKILL after $before acknowledgements; restarted (pid $maracd_pid)" >&2
done
sleep 1
kill "$load_pid"; wait "$load_pid" 2>/dev/null || true
load_pid=""

status=0
"$bin/marac-bench" verify-acks --url "$url" --ca "$C/ca.pem" --dir "$work/cast" --acks "$work/acks" || status=1
journal_notes=$(grep '"event":"journal"' "$work/maracd.log" || true)
stop_broker
maracd_pid=""
if "$bin/maracd" audit verify --data "$work/data" --certs "$C"; then echo "audit verify: OK"; else echo "audit verify: FAILED"; status=1; fi
echo "journal recovery notes on restart:"; echo "${journal_notes:-  (none)}"
echo "rounds $rounds, scratch $work"
[[ $status == 0 ]] && echo "PASS crash suite" || echo "FAIL crash suite"
exit $status
