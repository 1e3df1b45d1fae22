#!/usr/bin/env bash
# The Python package as a user installs it: a fresh virtual environment (seeing Debian's numpy and
# pytest), `pip install --no-index .` (offline: nothing may come from an index), then pytest on
# tests/python against the installed package, from outside the source tree.
#   tests/python/run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
venv=$(mktemp -d /tmp/facerec-venv.XXXXXX)
trap 'rm -rf "$venv"' EXIT
/usr/bin/python3 -m venv --system-site-packages "$venv"
FACEREC_BUILD_DIR=$build "$venv/bin/pip" install --no-index --no-cache-dir --quiet "$src"
cd "$venv"
FACEREC_TEST_VENV=$venv FACEREC_SOURCE_DIR=$src "$venv/bin/python" -m pytest -q -p no:cacheprovider "$src/tests/python"
