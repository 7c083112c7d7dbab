#!/usr/bin/env bash
# Runs the whole test suite with the machine's clock a year ahead (issue 19): every fixture
# date must come from the clock, so nothing may turn red on a later day.
#
#   scripts/year-ahead.sh [DAYS] [-- swift-testing arguments, e.g. --filter BrokerAPITests]
#
# libfaketime shifts the wall clock of this process and every child (maracd, marac, curl,
# openssl, python3), so certificates, deadlines and the clients' checks all agree on the
# shifted date. Monotonic clocks are left alone (FAKETIME_DONT_FAKE_MONOTONIC), and a small
# preloaded shim works around libfaketime 0.9.10 shifting monotonic deadlines anyway (see
# scripts/year-ahead/monotonic_passthrough.c). The test binary is run directly: SwiftPM itself
# stalls under libfaketime. Not part of CI (it doubles the suite's time); run it before
# resolving anything that touches dates.
set -euo pipefail
cd "$(dirname "$0")/.."
days=365
if [[ $# -gt 0 && $1 != -- ]]; then days=$1; shift; fi
[[ ${1:-} == -- ]] && shift
if ! command -v faketime > /dev/null; then
    echo "year-ahead: faketime is not installed (apt-get install -y faketime)" >&2
    exit 2
fi
mkdir -p .build/year-ahead
shim=$PWD/.build/year-ahead/monotonic_passthrough.so
cc -shared -fPIC -O2 -o "$shim" scripts/year-ahead/monotonic_passthrough.c -ldl
swift build --build-tests
tests=$(swift build --show-bin-path)/marac-brokerPackageTests.xctest
# faketime puts libfaketime after what LD_PRELOAD already holds, so the shim's symbols come first.
ahead() { LD_PRELOAD=$shim FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "+${days}d" "$@"; }
echo "year-ahead: the suite with the clock $days days ahead ($(ahead date -u +%FT%TZ))"
ahead "$tests" --testing-library swift-testing "$@"
