#!/usr/bin/env bash
# nginx and maracd driven side by side in one run by marac-bench, wrk and ab, and the ratios.
#
#   scripts/bench-vs-nginx.sh            # release build, then every load
#   SECONDS_PER_RUN=5 WAITERS=10000 SKIP_BUILD=1 PROFILE=1 scripts/bench-vs-nginx.sh
#   LOADS="wrk ab" scripts/bench-vs-nginx.sh      # only some loads: marac wrk ab durability longpoll
#   BIN=/path/to/release/bin LOADS=longpoll scripts/bench-vs-nginx.sh   # binaries built elsewhere
#
# nginx (installed with apt-get if absent) runs on loopback with TLS 1.3 only, the broker's
# ECDSA P-256 server certificate, `ssl_verify_client on` with the broker's CA, no session
# tickets or cache (every connection a full handshake), keepalive_requests raised, serving a
# small static JSON body. maracd runs from a fresh `maracd init` in a scratch directory. Both
# get the same loads; server CPU per operation comes from /proc/PID/stat (nginx: its workers).
# wrk (keep-alive, and `Connection: close`: a full handshake per request) and ab -k (HTTP/1.0
# keep-alive) present the client certificate through the LD_PRELOAD shim in
# ../shared/bench/mtls_preload.c (built here); marac-bench makes the loads they cannot
# (long-poll fan-out, durable submissions). Figures go to stdout and $OUT (default
# bench-results.json in the scratch dir).
# PROFILE=1 also records `perf` on maracd during its 64-connection keep-alive runs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
seconds=${SECONDS_PER_RUN:-5}
loads=" ${LOADS:-marac wrk ab durability longpoll} "
wants() { [[ $loads == *" $1 "* ]]; }
waiters=${WAITERS:-10000}
nginx_port=${NGINX_PORT:-28444}
maracd_port=${MARACD_PORT:-28445}

if [[ ${SKIP_BUILD:-0} != 1 && -z ${BIN:-} ]]; then
    swift build -c release --product maracd >&2
    swift build -c release --product marac-bench >&2
fi
bin=${BIN:-$(swift build -c release --show-bin-path)}
bench=$bin/marac-bench

need=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
if wants wrk; then command -v wrk >/dev/null || need+=(wrk); fi
if wants ab; then command -v ab >/dev/null || need+=(apache2-utils); fi
if (( ${#need[@]} )); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
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

# Records one figure in $out (the shape marac-bench writes) and prints it.
record() {
    local tmp
    tmp=$(mktemp "$work/record-XXXXXX")
    jq --arg k "$1" --argjson v "$2" --arg u "$3" '.[$k] = {value: $v, unit: $u}' "$out" > "$tmp" && mv "$tmp" "$out"
    printf '%s %s %s\n' "$1" "$2" "$3"
}
[[ -s $out ]] || echo '{}' > "$out"

# Clock ticks of user + system CPU of the processes $1 (comma-separated), from /proc/PID/stat.
cpu_ticks() {
    local total=0 pid
    for pid in ${1//,/ }; do
        total=$(( total + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat") ))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

# An independent client through the client-certificate shim: LD_PRELOAD and the credential.
shim=$work/mtls_preload.so
if wants wrk || wants ab; then
    gcc -O2 -shared -fPIC -o "$shim" "$repo/../shared/bench/mtls_preload.c" -ldl -lssl
fi
with_cert() { MTLS_CERT=$1 MTLS_KEY=$2 LD_PRELOAD=$shim "${@:3}"; }

# wrk_load LABEL NAME PIDS CERT KEY URL CONNECTIONS [close]: req/s, latency and server CPU per request.
wrk_load() {
    local label=$1 name=$2 pids=$3 cert=$4 key=$5 url=$6 c=$7 mode=${8:-keepalive}
    local extra=() before after text requests rate bad
    [[ $mode == close ]] && extra=(-H 'Connection: close')
    before=$(cpu_ticks "$pids")
    text=$(with_cert "$cert" "$key" wrk -t2 -c"$c" -d"${seconds}s" --latency "${extra[@]}" "$url" 2>&1)
    after=$(cpu_ticks "$pids")
    requests=$(awk '/ requests in / { print $1 }' <<<"$text")
    rate=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$text")
    bad=$(grep -E 'Non-2xx|Socket errors' <<<"$text" || true)
    if [[ -z $requests || -z $rate || $requests == 0 ]]; then echo "wrk $label $name failed:" >&2; echo "$text" >&2; return 0; fi
    [[ -n $bad ]] && echo "wrk $label $name c=$c $mode: $bad" >&2
    local key_=$label.wrk.$name.$mode.c$c
    record "$key_.requests_per_s" "$rate" "requests/s"
    record "$key_.p99_ms" "$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; print v }' <<<"$text")" "ms"
    record "$key_.server_cpu_us_per_request" "$(( (after - before) * 1000000 / hz / requests ))" "us"
    record "$key_.errors" "$( (grep -oE '(Non-2xx or 3xx responses|connect|read|write|timeout) [0-9]+' <<<"$bad" || true) | awk '{ n += $NF } END { print n + 0 }')" "count"
}

# ab_load LABEL NAME PIDS CERT KEY URL CONNECTIONS: ApacheBench -k (HTTP/1.0 keep-alive).
ab_load() {
    local label=$1 name=$2 pids=$3 cert=$4 key=$5 url=$6 c=$7
    local before after text requests rate failed
    before=$(cpu_ticks "$pids")
    text=$(with_cert "$cert" "$key" ab -k -q -c "$c" -t "$seconds" -n 50000000 "$url" 2>&1)
    after=$(cpu_ticks "$pids")
    requests=$(awk '/^Complete requests:/ { print $3 }' <<<"$text")
    rate=$(awk '/^Requests per second:/ { print $4 }' <<<"$text")
    failed=$(awk '/^Failed requests:/ { f = $3 } /^Non-2xx responses:/ { n = $3 } END { print f + n }' <<<"$text")
    if [[ -z $requests || -z $rate || $requests == 0 ]]; then echo "ab $label $name failed:" >&2; echo "$text" >&2; return 0; fi
    local key_=$label.ab.$name.keepalive.c$c
    record "$key_.requests_per_s" "$rate" "requests/s"
    record "$key_.server_cpu_us_per_request" "$(( (after - before) * 1000000 / hz / requests ))" "us"
    record "$key_.errors" "$failed" "count"
}

perf_during() {  # perf_during NAME: records perf on maracd for 3 s from 1.5 s on (PROFILE=1)
    if [[ ${PROFILE:-0} == 1 ]] && command -v perf >/dev/null; then
        (sleep 1.5; perf record -F 999 -g -p "$maracd_pid" -o "$work/perf-$1.data" -- sleep 3 >/dev/null 2>&1) &
        pids+=($!)
    fi
}
# --- keep-alive and handshakes, each pair back to back ------------------------------------
if wants marac; then
for c in 1 16 64; do
    "$bench" keepalive --url "$nginx_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /whoami.json \
        --connections "$c" --server-pid "$nginx_workers" --label nginx
    [[ $c == 64 ]] && perf_during marac-bench-whoami
    "$bench" keepalive --url "$maracd_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /v1/whoami \
        --connections "$c" --server-pid "$maracd_pid" --label maracd
    "$bench" keepalive --url "$maracd_url" "${common[@]}" --cert "$cast/spoc.pem" --key "$cast/spoc-key.pem" --path /v1/requests \
        --connections "$c" --server-pid "$maracd_pid" --label maracd-spoc
done
"$bench" handshake --url "$nginx_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /whoami.json \
    --connections 16 --server-pid "$nginx_workers" --label nginx
"$bench" handshake --url "$maracd_url" "${common[@]}" --cert "$C/admin.pem" --key "$C/admin-key.pem" --path /v1/whoami \
    --connections 16 --server-pid "$maracd_pid" --label maracd
fi

# --- wrk: keep-alive (64 connections) and full handshakes (`Connection: close`, 16) --------
if wants wrk; then
    wrk_load nginx whoami "$nginx_workers" "$C/admin.pem" "$C/admin-key.pem" "$nginx_url/whoami.json" 64
    perf_during wrk-whoami
    wrk_load maracd whoami "$maracd_pid" "$C/admin.pem" "$C/admin-key.pem" "$maracd_url/v1/whoami" 64
    perf_during wrk-spoc
    wrk_load maracd spoc-requests "$maracd_pid" "$cast/spoc.pem" "$cast/spoc-key.pem" "$maracd_url/v1/requests" 64
    wrk_load nginx whoami "$nginx_workers" "$C/admin.pem" "$C/admin-key.pem" "$nginx_url/whoami.json" 16 close
    perf_during wrk-close
    wrk_load maracd whoami "$maracd_pid" "$C/admin.pem" "$C/admin-key.pem" "$maracd_url/v1/whoami" 16 close
fi

# --- ab -k: HTTP/1.0 keep-alive ----------------------------------------------------------
if wants ab; then
    ab_load nginx whoami "$nginx_workers" "$C/admin.pem" "$C/admin-key.pem" "$nginx_url/whoami.json" 64
    ab_load maracd whoami "$maracd_pid" "$C/admin.pem" "$C/admin-key.pem" "$maracd_url/v1/whoami" 64
fi

# --- durability: raw fsync of the data directory's disk vs durable submissions -------------
if wants durability; then
    "$bench" fsync --dir "$work/data" --seconds 3 --json "$out"
    # With PROFILE=1, perf records maracd for 3 s of the 64-writer run.
    "$bench" submit --url "$maracd_url" "${common[@]}" --dir "$cast" --writers 1,64 --versions-per-request 90 --server-pid "$maracd_pid" \
        | { started=0
            while IFS= read -r line; do
                printf '%s\n' "$line"
                if [[ $line == "# submit.w64 started" && $started == 0 && ${PROFILE:-0} == 1 ]] && command -v perf >/dev/null; then
                    started=1
                    (sleep 1; perf record -F 999 -g -p "$maracd_pid" -o "$work/perf-submit.data" -- sleep 3 >/dev/null 2>&1) &
                fi
            done
            wait; }
fi

# --- long-poll fan-out -------------------------------------------------------------------
if wants longpoll; then
    # With PROFILE=1, perf records maracd from the moment every waiter is parked (the bench then
    # waits 1.5 s before the dispatch) until the wake-ups are over.
    "$bench" longpoll --url "$maracd_url" --ca "$C/ca.pem" --json "$out" --dir "$cast" --waiters "$waiters" --server-pid "$maracd_pid" \
        | { while IFS= read -r line; do
                printf '%s\n' "$line"
                if [[ $line == longpoll.waiters_parked* && ${PROFILE:-0} == 1 ]] && command -v perf >/dev/null; then
                    perf record -F 2999 -g -p "$maracd_pid" -o "$work/perf-longpoll-wake.data" -- sleep 4 >/dev/null 2>&1 &
                fi
            done
            wait; }  # only perf: this group's own child
fi

# --- ratios ------------------------------------------------------------------------------
echo
echo "== ratios (same run; targets from issue 15) =="
jq -r '
  def v(k): .[k].value;
  def r(a; b): if (v(a) // 0) > 0 and (v(b) // 0) > 0 then (v(a) / v(b) * 100 | round / 100) else "n/a" end;
  def n(k): if v(k) == null then "n/a" else (v(k) * 10 | round / 10) end;
  "wrk keep-alive c=64 whoami maracd/nginx req/s    \(r("maracd.wrk.whoami.keepalive.c64.requests_per_s"; "nginx.wrk.whoami.keepalive.c64.requests_per_s"))x   (goal >= 0.8, defect < 0.6)",
  "wrk keep-alive c=64 CPU/req maracd/nginx         \(r("maracd.wrk.whoami.keepalive.c64.server_cpu_us_per_request"; "nginx.wrk.whoami.keepalive.c64.server_cpu_us_per_request"))x   (goal <= 2)  [\(n("maracd.wrk.whoami.keepalive.c64.server_cpu_us_per_request")) vs \(n("nginx.wrk.whoami.keepalive.c64.server_cpu_us_per_request")) us]",
  "wrk keep-alive c=64 SPOC requests / nginx static \(r("maracd.wrk.spoc-requests.keepalive.c64.requests_per_s"; "nginx.wrk.whoami.keepalive.c64.requests_per_s"))x   (goal >= 0.7, defect < 0.5)",
  "wrk Connection: close c=16 handshakes/s          \(r("maracd.wrk.whoami.close.c16.requests_per_s"; "nginx.wrk.whoami.close.c16.requests_per_s"))x   (goal >= 0.95, defect < 0.85)",
  "wrk Connection: close CPU/handshake maracd/nginx \(r("maracd.wrk.whoami.close.c16.server_cpu_us_per_request"; "nginx.wrk.whoami.close.c16.server_cpu_us_per_request"))x   (goal <= 1.1)  [\(n("maracd.wrk.whoami.close.c16.server_cpu_us_per_request")) vs \(n("nginx.wrk.whoami.close.c16.server_cpu_us_per_request")) us]",
  "ab -k c=64 whoami maracd/nginx req/s             \(r("maracd.ab.whoami.keepalive.c64.requests_per_s"; "nginx.ab.whoami.keepalive.c64.requests_per_s"))x   CPU/req \(r("maracd.ab.whoami.keepalive.c64.server_cpu_us_per_request"; "nginx.ab.whoami.keepalive.c64.server_cpu_us_per_request"))x",
  "marac-bench keep-alive c=64 whoami maracd/nginx  \(r("maracd.keepalive.c64.requests_per_s"; "nginx.keepalive.c64.requests_per_s"))x",
  "marac-bench keep-alive c=64 SPOC / nginx static  \(r("maracd-spoc.keepalive.c64.requests_per_s"; "nginx.keepalive.c64.requests_per_s"))x",
  "marac-bench handshakes c=16 maracd/nginx         \(r("maracd.handshake.c16.handshakes_per_s"; "nginx.handshake.c16.handshakes_per_s"))x",
  "durable w=64 / raw single-writer fsync           \(r("submit.w64.submissions_per_s"; "fsync.raw_single_writer_per_s"))x   (goal >= 5, defect < 3); server CPU \(n("submit.w64.server_cpu_us_per_submission")) us each (goal <= 100)",
  "long-poll \(v("longpoll.waiters_parked")) waiters: \(if v("longpoll.waiters_parked") > 0 then ((v("longpoll.rss_with_waiters_mib") - v("longpoll.rss_before_mib")) * 1048576 / v("longpoll.waiters_parked") / 1024 * 10 | round / 10) else "n/a" end) KiB RSS per waiter (goal <= 12, defect > 25); wake p99 after the dispatch ack \(n("longpoll.wake_p99_ms")) ms (goal <= 50, defect > 100), after the dispatch was sent p99 \(n("longpoll.wake_from_dispatch_sent_p99_ms")) ms, max \(n("longpoll.wake_from_dispatch_sent_max_ms")) ms; dispatch ack \(n("longpoll.dispatch_ack_ms")) ms"
' "$out"
echo "figures: $out"
for data in "$work"/perf-*.data; do
    [[ -f $data ]] || continue
    name=$(basename "$data" .data)
    perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40 \
        | swift demangle --simplified > "$work/$name-top.txt" || true
    echo "perf top symbols (maracd, $name): $work/$name-top.txt"
    cat "$work/$name-top.txt"
done
