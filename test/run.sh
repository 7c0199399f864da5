#!/usr/bin/env bash
# Runs every test file under test/ with node's test runner (Node 20 does not expand globs itself).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency=2 "$@" "${files[@]}"
