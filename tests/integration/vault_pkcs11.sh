#!/usr/bin/env bash
# The vault's KEK tests against a real SoftHSM2 token made for this run.
set -euo pipefail
build=$1 src=$2
dir=$(mktemp -d /tmp/lisec-hsm-XXXXXX)
trap 'rm -rf "$dir"' EXIT
eval "$("$src/scripts/test/softhsm-start" "$dir" lisec-test 1234)"
"$build/src/keys/test_kek"
