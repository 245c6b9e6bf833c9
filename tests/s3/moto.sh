#!/usr/bin/env bash
# The second S3 server of keytrail's tests: moto's server (tests/s3/moto-requirements.txt), which also speaks IAM and STS
# and, with INITIAL_NO_AUTH_ACTION_COUNT set, checks every later request's SigV4 signature and
# IAM policies, assumed-role credentials included. The credential tests (tests/cli/s3_profiles.rs)
# read a trail from it through profiles that assume a role, run a credential_process or use SSO.
#
#   tests/s3/moto.sh install              # pip-installs moto[server] into a virtual environment,
#                                         # target/moto-venv (once); prints its path
#   tests/s3/moto.sh run PORT             # runs it in the foreground on 127.0.0.1:PORT
#   tests/s3/moto.sh serve-for PID PORT   # the same, stopped when process PID ends
#   tests/s3/moto.sh python ARGS...       # python3 with moto and boto3 importable
#                                         # (tests/s3/moto_setup.py runs so)
#
# Requests before INITIAL_NO_AUTH_ACTION_COUNT (from the environment) are not checked: the setup
# script creates the users, keys and role in exactly that many.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/moto-venv"
# moto[server] 5.2.5 and every package it needs, pinned.
requirements="$root/tests/s3/moto-requirements.txt"

install() {
    # Reinstall when the pins change.
    if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
        python3 -m venv "$venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
        cp "$requirements" "$venv/requirements.txt"
    fi
    "$venv/bin/python" -c "import moto.server, boto3" >&2
    echo "$venv"
}

case "${1:-}" in
    install) install ;;
    run)
        port="${2:?usage: $0 run PORT}"
        install >/dev/null
        exec "$venv/bin/python" -m moto.server -H 127.0.0.1 -p "$port"
        ;;
    serve-for)
        parent="${2:?usage: $0 serve-for PID PORT}"
        port="${3:?usage: $0 serve-for PID PORT}"
        install >/dev/null
        "$venv/bin/python" -m moto.server -H 127.0.0.1 -p "$port" &
        server=$!
        trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
        while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do
            sleep 0.5
        done
        ;;
    python)
        shift
        install >/dev/null
        exec "$venv/bin/python" "$@"
        ;;
    *)
        echo "usage: $0 install | run PORT | serve-for PID PORT | python ARGS..." >&2
        exit 2
        ;;
esac
