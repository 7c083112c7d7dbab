#!/usr/bin/env bash
# Fuzz one target with libFuzzer (+ AddressSanitizer) for SECONDS.
#
#   scripts/fuzz.sh TARGET [SECONDS] [extra libFuzzer flags...]
#   TARGET: http-parser | json-bodies | journal | pem | stored-json | all
#
# Builds marac-fuzz in release mode with -sanitize=fuzzer,address and -DFUZZING into
# .build/fuzz (separate from the normal build, which is never instrumented), then runs it on
# a scratch copy of fuzz/corpus/TARGET with the target's dictionary. New interesting inputs
# are merged back into fuzz/corpus/TARGET only with MERGE=1. A crash leaves its input as
# fuzz/crashes/TARGET/crash-*; reproduce it with
#   swift build --product marac-fuzz && .build/debug/marac-fuzz TARGET FILE
# and, once fixed, move it to fuzz/regressions/TARGET/ (replayed by swift test).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
targets=(http-parser json-bodies journal pem stored-json)

if [[ $target == all ]]; then
    for t in "${targets[@]}"; do "$0" "$t" "$seconds" "$@"; done
    exit 0
fi
[[ " ${targets[*]} " == *" $target "* ]] || { echo "unknown target $target (one of: ${targets[*]} all)" >&2; exit 2; }

build=.build/fuzz
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    # -sanitize=fuzzer,address through -Xswiftc keeps coverage instrumentation (passing
    # --sanitize twice to SwiftPM loses it); -DFUZZING swaps the replayer for the libFuzzer entry.
    swift build -c release --build-path "$build" --product marac-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address >&2
fi
binary=$(swift build -c release --build-path "$build" --show-bin-path)/marac-fuzz

dict=""
case $target in
    http-parser) dict=fuzz/http.dict ;;
    json-bodies|stored-json) dict=fuzz/json.dict ;;
    pem) dict=fuzz/pem.dict ;;
esac

work=$(mktemp -d /tmp/marac-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "fuzz/corpus/$target" "$work/corpus"
mkdir -p "fuzz/crashes/$target"
flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1
       -artifact_prefix="fuzz/crashes/$target/")
[[ -n $dict ]] && flags+=(-dict="$dict")

echo "fuzzing $target for ${seconds}s" >&2
status=0
MARAC_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$binary" "${flags[@]}" "$@" "$work/corpus" fuzz/regressions/"$target" \
    2>"$work/log" || status=$?
grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Test unit written" "$work/log" >&2 || true
if [[ ${MERGE:-0} == 1 && $status == 0 ]]; then
    MARAC_FUZZ_TARGET=$target "$binary" -merge=1 "fuzz/corpus/$target" "$work/corpus" 2>/dev/null
fi
if [[ $status != 0 ]]; then
    tail -40 "$work/log" >&2
    echo "FAIL $target: libFuzzer exit $status; input saved under fuzz/crashes/$target/" >&2
    exit 1
fi
rmdir "fuzz/crashes/$target" 2>/dev/null || true
echo "PASS $target: ${seconds}s clean" >&2
