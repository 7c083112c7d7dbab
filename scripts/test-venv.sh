#!/usr/bin/env bash
# Makes (or checks) the Python venv the Swift tests drive: schemathesis, prometheus_client and
# Playwright, at the versions Tests/python/requirements.txt pins. Prints the venv's path.
# The venv is rebuilt only when the requirements change (a stamp holds their hash), so a rerun
# costs a second. Location: $MARAC_TEST_VENV, default ~/.cache/marac-broker/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${MARAC_TEST_VENV:-$HOME/.cache/marac-broker/venv}"
requirements=Tests/python/requirements.txt
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" = "$want" ]; then
    echo "$venv"
    exit 0
fi
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install -q -r "$requirements" >&2
echo "$want" > "$venv/.requirements-sha256"
echo "$venv"
