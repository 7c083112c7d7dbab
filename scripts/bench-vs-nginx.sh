#!/usr/bin/env bash
# marac-bench against nginx and maracd, side by side in one run, and the ratios.
#
#   scripts/bench-vs-nginx.sh            # release build, then every load
#   SECONDS_PER_RUN=5 WAITERS=10000 SKIP_BUILD=1 PROFILE=1 scripts/bench-vs-nginx.sh
#
# nginx (installed with apt-get if absent) runs on loopback with TLS 1.3 only, the broker's
# ECDSA P-256 server certificate, `ssl_verify_client on` with the broker's CA, no session
# tickets or cache (every connection a full handshake), keepalive_requests raised, serving a
# small static JSON body. maracd runs from a fresh `maracd init` in a scratch directory. Both
# get the same marac-bench loads; server CPU per operation comes from /proc/PID/stat (nginx:
# its workers). Figures go to stdout and $OUT (default bench-results.json in the scratch dir).
# PROFILE=1 also records `perf` on maracd during its 64-connection keep-alive run.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
seconds=${SECONDS_PER_RUN:-5}
waiters=${WAITERS:-10000}
nginx_port=${NGINX_PORT:-28444}
maracd_port=${MARACD_PORT:-28445}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    swift build -c release --product maracd >&2
    swift build -c release --product marac-bench >&2
fi
bin=$(swift build -c release --show-bin-path)
bench=$bin/marac-bench

if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >&2
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d /tmp/marac-bench-XXXXXX)
chmod 755 "$work"
out=${OUT:-$work/bench-results.json}
pids=()
maracd_pid=""
cleanup() { for p in "${pids[@]}" $maracd_pid; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# --- maracd (scripts/lib/broker.sh), with the bench agency's SPOC and coordinator enrolled --
# shellcheck source=lib/broker.sh
source scripts/lib/broker.sh
port=$maracd_port
"$bin/maracd" init --certs "$work/certs" >&2
start_broker
enrol_bench

# --- nginx ------------------------------------------------------------------------------
mkdir -p "$work/nginx/www"
printf '{"agency":"community-safety","certificate":{"daysToExpiry":364,"notAfter":"2027-11-26T05:00:00Z","serial":"74D8A1C3"},"name":"admin","principal":"admin","role":"admin"}' \
    > "$work/nginx/www/whoami.json"
cat > "$work/nginx/nginx.conf" <<CONF
user root;
worker_processes $(nproc);
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 20000; }
worker_rlimit_nofile 20000;
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $work/certs/server.pem;
        ssl_certificate_key $work/certs/server-key.pem;
        ssl_client_certificate $work/certs/ca.pem;
        ssl_verify_client on;
        ssl_protocols TLSv1.3;
        ssl_session_tickets off;
        ssl_session_cache off;
        root $work/nginx/www;
        location / { default_type application/json; try_files /whoami.json =404; }
    }
}
CONF
"$nginx_bin" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")

for _ in $(seq 100); do
    [[ -n $(pgrep -P "$nginx_pid" || true) ]] && break
    sleep 0.1
done
sleep 0.5
nginx_workers=$(pgrep -P "$nginx_pid" | paste -sd, -)
echo "maracd pid $maracd_pid, nginx workers $nginx_workers, scratch $work" >&2

C=$work/certs
common=(--ca "$C/ca.pem" --seconds "$seconds" --json "$out")
nginx_url=https://127.0.0.1:$nginx_port
maracd_url=https://127.0.0.1:$maracd_port
cast=$work/cast

# --- keep-alive and handshakes, each pair back to back ------------------------------------
for c in 1 16 64; do
    "$bench" keepalive --url "$nginx_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /whoami.json \
        --connections "$c" --server-pid "$nginx_workers" --label nginx
    if [[ ${PROFILE:-0} == 1 && $c == 64 ]] && command -v perf >/dev/null; then
        (sleep 1.5; perf record -F 999 -g -p "$maracd_pid" -o "$work/perf.data" -- sleep 3 >/dev/null 2>&1) &
        pids+=($!)
    fi
    "$bench" keepalive --url "$maracd_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /v1/whoami \
        --connections "$c" --server-pid "$maracd_pid" --label maracd
    "$bench" keepalive --url "$maracd_url" "${common[@]}" --cert "$cast/spoc.pem" --key "$cast/spoc-key.pem" --path /v1/requests \
        --connections "$c" --server-pid "$maracd_pid" --label maracd-spoc
done
"$bench" handshake --url "$nginx_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /whoami.json \
    --connections 16 --server-pid "$nginx_workers" --label nginx
"$bench" handshake --url "$maracd_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /v1/whoami \
    --connections 16 --server-pid "$maracd_pid" --label maracd

# --- durability: raw fsync of the data directory's disk vs durable submissions -------------
"$bench" fsync --dir "$work/data" --seconds 3 --json "$out"
"$bench" submit --url "$maracd_url" "${common[@]}" --dir "$cast" --writers 1,64 --versions-per-request 90 --server-pid "$maracd_pid"

# --- long-poll fan-out -------------------------------------------------------------------
"$bench" longpoll --url "$maracd_url" --ca "$C/ca.pem" --json "$out" --dir "$cast" --waiters "$waiters" --server-pid "$maracd_pid"

# --- ratios ------------------------------------------------------------------------------
echo
echo "== ratios (same run; targets from issue 8) =="
jq -r '
  def v(k): .[k].value;
  def r(a; b): if (v(a) // 0) > 0 and (v(b) // 0) > 0 then (v(a) / v(b) * 100 | round / 100) else "n/a" end;
  "keep-alive c=64  whoami maracd/nginx       \(r("maracd.keepalive.c64.requests_per_s"; "nginx.keepalive.c64.requests_per_s"))x   (target >= 0.8)",
  "keep-alive c=64  SPOC requests maracd/nginx \(r("maracd-spoc.keepalive.c64.requests_per_s"; "nginx.keepalive.c64.requests_per_s"))x",
  "keep-alive c=16  whoami maracd/nginx       \(r("maracd.keepalive.c16.requests_per_s"; "nginx.keepalive.c16.requests_per_s"))x",
  "keep-alive c=1   whoami maracd/nginx       \(r("maracd.keepalive.c1.requests_per_s"; "nginx.keepalive.c1.requests_per_s"))x",
  "server CPU/request c=64 nginx/maracd       \(r("nginx.keepalive.c64.server_cpu_us_per_request"; "maracd.keepalive.c64.server_cpu_us_per_request"))x",
  "handshakes c=16  maracd/nginx              \(r("maracd.handshake.c16.handshakes_per_s"; "nginx.handshake.c16.handshakes_per_s"))x   (target >= 0.9)",
  "server CPU/handshake nginx/maracd          \(r("nginx.handshake.c16.server_cpu_us_per_handshake"; "maracd.handshake.c16.server_cpu_us_per_handshake"))x",
  "durable w=64 / raw single-writer fsync     \(r("submit.w64.submissions_per_s"; "fsync.raw_single_writer_per_s"))x   (target >= 10)",
  "long-poll \(v("longpoll.waiters_parked")) waiters: RSS \(v("longpoll.rss_with_waiters_mib") | round) MiB (target <= 512), wake p99 after the dispatch ack \(v("longpoll.wake_p99_ms") | round) ms (target <= 50), after the dispatch was sent p99 \(v("longpoll.wake_from_dispatch_sent_p99_ms") | round) ms, max \(v("longpoll.wake_from_dispatch_sent_max_ms") | round) ms; dispatch ack \(v("longpoll.dispatch_ack_ms") | round) ms"
' "$out"
echo "figures: $out"
if [[ -f $work/perf.data ]]; then
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40 \
        | swift demangle --simplified > "$work/perf-top.txt" || true
    echo "perf top symbols (maracd, keep-alive c=64): $work/perf-top.txt"
    cat "$work/perf-top.txt"
fi
