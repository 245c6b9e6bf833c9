#!/usr/bin/env bash
# The engines keytrail's emitted code runs on in its tests: PySpark (local mode) and DuckDB,
# pinned in tests/engines/requirements.txt, in a virtual environment under target/.
#
#   tests/engines/engines.sh install          # creates target/engines-venv (once), installs the
#                                             # pinned packages, checks Java; prints the venv
#   tests/engines/engines.sh spark-submit ARGS
#                                             # spark-submit from it, local mode, loopback only
#
# `cargo test` installs them by itself (tests/cli/engines.rs) and fails, never skips, when they
# cannot be installed or started. Spark needs Java 17 (Debian: apt-get install
# openjdk-17-jre-headless).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${KEYTRAIL_ENGINES_VENV:-$root/target/engines-venv}"
requirements="$root/tests/engines/requirements.txt"

install() {
    if ! command -v java >/dev/null 2>&1; then
        echo "engines.sh: no java on PATH: Spark needs Java 17 (apt-get install openjdk-17-jre-headless)" >&2
        exit 1
    fi
    # Reinstall when the pins change.
    if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
        python3 -m venv "$venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
        cp "$requirements" "$venv/requirements.txt"
    fi
    "$venv/bin/python" -c "import pyspark, sqlglot, duckdb" >&2
    echo "$venv"
}

case "${1:-}" in
    install) install ;;
    spark-submit)
        shift
        install >/dev/null
        export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$venv/bin/python" PYSPARK_DRIVER_PYTHON="$venv/bin/python"
        exec "$venv/bin/spark-submit" --master 'local[2]' \
            --conf spark.ui.enabled=false --conf spark.sql.session.timeZone=UTC \
            --conf spark.default.parallelism=2 --conf spark.sql.shuffle.partitions=2 \
            --driver-java-options "-Dlog4j2.configurationFile=file:$root/tests/engines/log4j2.properties" "$@"
        ;;
    *)
        echo "usage: $0 install | spark-submit ARGS" >&2
        exit 2
        ;;
esac
