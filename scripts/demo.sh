#!/usr/bin/env bash
# `make demo`: safemerge end to end, offline, in under a minute.
#
# Serves a temporary copy of examples/jit-integration.yml as the Jit API on a free
# loopback port (`safemerge serve`, which writes the port it chose to --port-file),
# then, with the safemerge command line: plan a fragment, apply it, show the file,
# apply it again (nothing to do) and try a fragment that disagrees with the file
# (refused, nothing written). The server and the temporary folder are removed at
# the end, also when a step fails or the demo is interrupted.
#
# SAFEMERGE names the safemerge executable (the Makefile passes the venv's).
set -euo pipefail

cd "$(dirname "$0")/.."
SAFEMERGE=${SAFEMERGE:-.venv/bin/safemerge}
PATH="$(cd "$(dirname "$SAFEMERGE")" && pwd):$PATH"
export PATH
unset SAFEMERGE_TARGET JIT_CLIENT_ID JIT_CLIENT_SECRET

workdir=$(mktemp -d "${TMPDIR:-/tmp}/safemerge-demo.XXXXXX")
server_pid=""

cleanup() {
    local status=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        echo "stopped the server"
    fi
    if [ "$status" -ne 0 ] && [ -s "$workdir/server.log" ]; then
        echo "--- the server's log ---" >&2
        cat "$workdir/server.log" >&2
    fi
    rm -rf "$workdir"
    if [ "$status" -ne 0 ]; then
        echo "make demo FAILED (exit $status); the server is stopped and $workdir removed" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\e[1m' plain=$'\e[0m'; else bold="" plain=""; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
say() { printf '$ %s\n' "$*"; "$@"; }  # show the command as you would type it, then run it

# A throwaway bearer token: the server requires it, the client sends it. Never printed.
JIT_API_TOKEN="demo-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
SAFEMERGE_SERVE_TOKEN=$JIT_API_TOKEN
export JIT_API_TOKEN SAFEMERGE_SERVE_TOKEN

step "1. A local Jit API over a copy of examples/jit-integration.yml"
cp examples/jit-integration.yml "$workdir/jit-integration.yml"
safemerge serve --file "$workdir/jit-integration.yml" --port-file "$workdir/port" \
    >"$workdir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    if grep -qx '[0-9][0-9]*' "$workdir/port" 2>/dev/null; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then echo "safemerge serve did not start" >&2; exit 1; fi
    sleep 0.1
done
grep -qx '[0-9][0-9]*' "$workdir/port" || { echo "safemerge serve wrote no port" >&2; exit 1; }
target="http://127.0.0.1:$(cat "$workdir/port")"
echo "safemerge serve is answering GET and PUT /plans/integration-file at $target,"
echo "as https://api.jit.io does; the bearer token is in JIT_API_TOKEN."

step "2. The fragment: one new AWS account, and nothing else"
say cat examples/add-aws-account.yml

step "3. plan: what apply would change (nothing is written)"
say safemerge plan examples/add-aws-account.yml --target "$target"

step "4. apply: read, merge, validate, write back guarded by the file's SHA"
say safemerge apply examples/add-aws-account.yml --target "$target"

step "5. The file now: the account appended; comments and every other line as they were"
say safemerge get --target "$target"
echo "(get shows values under secret-looking keys, such as client_secret, as <redacted>)"

step "6. apply again: already there, so nothing to do and nothing written"
say safemerge apply examples/add-aws-account.yml --target "$target"

step "7. A fragment that disagrees with the file is refused, listing each conflict"
printf "aws:\n- account_id: '012345678901'\n  account_name: stage\n" >"$workdir/rename.yml"
say cat "$workdir/rename.yml"
set +e
say safemerge apply "$workdir/rename.yml" --target "$target"
code=$?
set -e
[ "$code" -eq 1 ] || { echo "expected exit code 1, got $code" >&2; exit 1; }
echo "(exit code 1: merge conflict, nothing written; --on-conflict fragment would rename it)"

step "Done"
