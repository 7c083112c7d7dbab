#!/usr/bin/env bash
# TLS scan of a running maracd (or a fresh one): sslyze with a client certificate, against
# Mozilla's "modern" profile (exit 0 only when compliant), plus testssl.sh when installed.
#
#   scripts/tls-scan.sh                         # starts a scratch maracd on 127.0.0.1:28447
#   scripts/tls-scan.sh HOST:PORT CERTS_DIR     # scans a running broker with CERTS_DIR's admin credential
#
# Installs sslyze from PyPI (pip) and testssl.sh from Debian (apt-get) when absent.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v sslyze >/dev/null || pip3 install -q sslyze >&2
if ! command -v testssl >/dev/null && ! command -v testssl.sh >/dev/null; then
    (apt-get install -y -qq testssl.sh >/dev/null 2>&1 || true)
fi

maracd_pid=""
trap '[[ -n $maracd_pid ]] && kill "$maracd_pid" 2>/dev/null; true' EXIT
if [[ $# -ge 2 ]]; then
    target=$1; certs=$2
else
    [[ ${SKIP_BUILD:-0} == 1 ]] || swift build --product maracd >&2
    bin=$(swift build --show-bin-path)
    work=$(mktemp -d /tmp/marac-tls-scan-XXXXXX)
    certs=$work/certs
    target=127.0.0.1:${PORT:-28447}
    "$bin/maracd" serve --data "$work/data" --certs "$certs" --config "$work/no-config" --listen "$target" 2>"$work/maracd.log" &
    maracd_pid=$!
    for _ in $(seq 200); do grep -q '"event":"listening"' "$work/maracd.log" 2>/dev/null && break; sleep 0.05; done
fi

echo "== sslyze $(sslyze --help >/dev/null 2>&1 && pip3 show sslyze 2>/dev/null | awk '/^Version/{print $2}') against $target (Mozilla modern profile) =="
status=0
sslyze --cert "$certs/admin.pem" --key "$certs/admin-key.pem" --certinfo_ca_file "$certs/ca.pem" \
    --mozilla_config modern "$target" | sed -n '/SCAN RESULTS/,$p' || status=$?
echo "sslyze exit status: $status (0 = compliant with Mozilla modern)"

echo
echo "== client certificate requirement =="
openssl s_client -connect "$target" -CAfile "$certs/ca.pem" </dev/null 2>&1 | grep -E "alert|Verify return code" | head -3 || true
printf 'GET /v1/whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' \
    | openssl s_client -quiet -connect "$target" -CAfile "$certs/ca.pem" 2>&1 | grep -E "alert|HTTP/1.1" | head -2 || true

testssl=$(command -v testssl || command -v testssl.sh || true)
if [[ -n $testssl ]]; then
    echo
    echo "== testssl.sh (no client certificate option: protocols, ciphers, vulnerabilities) =="
    "$testssl" --quiet --color 0 --protocols --std --each-cipher --vulnerable "$target" 2>&1 | grep -vE '^\s*$' | head -80 || true
fi
exit $status
