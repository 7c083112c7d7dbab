# Shared by the scripts: run a scratch maracd and enrol the bench principals.
# Needs: $bin (directory of the built maracd and marac-bench), $work (scratch directory),
# $port. Sets $maracd_pid.

# Starts maracd on $port with $work/data and $work/certs; returns when it listens.
start_broker() {
    # The loads spread 90 return versions over each request (--versions-per-request 90) and park
    # every long-poll waiter as the one bench SPOC, all from 127.0.0.1: allow 100 versions per
    # request, and 10,000 waiters, 20,000 connections per principal and 20,000 handshakes per
    # address instead of the defaults (20, 4, 64 and 32); everything else the embedded defaults.
    mkdir -p "$work/no-config"
    printf '{"limits": {"maxReturnVersionsPerRequest": 100, "maxReturnBytesPerRequest": 67108864, "maxLongPollsPerPrincipal": 10000, "maxConnectionsPerPrincipal": 20000, "maxHandshakesPerAddress": 20000}}\n' > "$work/no-config/broker.json"
    (ulimit -n "$(ulimit -Hn)"; exec "$bin/maracd" serve --data "$work/data" --certs "$work/certs" --config "$work/no-config" \
        --listen "127.0.0.1:$port" 2>>"$work/maracd.log") &
    maracd_pid=$!
    for _ in $(seq 300); do
        if grep -q "\"pid\":$maracd_pid[,}]" "$work/maracd.log" 2>/dev/null; then return 0; fi
        kill -0 "$maracd_pid" 2>/dev/null || { echo "maracd exited; log:" >&2; tail -5 "$work/maracd.log" >&2; return 1; }
        sleep 0.05
    done
    echo "maracd did not start" >&2
    return 1
}

# Stops maracd gracefully (SIGTERM) and waits for it.
stop_broker() {
    kill -TERM "$maracd_pid" 2>/dev/null || true
    wait "$maracd_pid" 2>/dev/null || true
}

# Creates the bench agency, its SPOC and a coordinator in $work/cast (credentials and ids),
# and approves both certificates as the server operator (which needs the broker stopped for a moment).
enrol_bench() {
    local certs=$work/certs
    "$bin/marac-bench" enrol --url "https://127.0.0.1:$port" --ca "$certs/ca.pem" --admin-cert "$certs/admin.pem" \
        --admin-key "$certs/admin-key.pem" --dir "$work/cast" >&2
    stop_broker
    for role in coordinator spoc; do
        "$bin/maracd" credential approve --data "$work/data" --certs "$certs" --config "$work/no-config" \
            "$(openssl x509 -in "$work/cast/$role.pem" -noout -serial | cut -d= -f2)" >&2
    done
    start_broker
}
