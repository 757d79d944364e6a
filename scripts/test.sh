#!/usr/bin/env bash
# Runs every test (installing what is missing first): the cheap checks
# first, so that they fail fast (rustfmt; clippy on the native crates and on
# the client for wasm32), then the shared crate's unit tests, the server's
# HTTP, storage conformance (sled and PostgreSQL), fuzz (with a fixed seed),
# crash and power-loss tests, the HTTP tests again on PostgreSQL, the release build of the
# client, the Playwright suite against the real server, and flow A and
# flow B in Firefox and WebKit (end2end/other-engines.sh). Prints how long
# each stage took at the end, also when one fails.
set -euo pipefail
cd "$(dirname "$0")/.."

# The fuzz test's seed here, so that a run is repeatable; a plain local
# `cargo test` draws one at random. Either way the seed is printed.
export KAISEN_FUZZ_SEED="${KAISEN_FUZZ_SEED:-20261201}"

timings=()
current=""
start=$SECONDS
report() {
  local status=$?
  if ((${#timings[@]})); then
    echo "stages:"
    printf '  %s\n' "${timings[@]}"
  fi
  if ((status == 0)); then
    echo "all tests passed in $((SECONDS - start)) s"
  else
    echo "FAILED in stage \"$current\" after $((SECONDS - start)) s" >&2
  fi
}
trap report EXIT

# Runs `"$@"` as the stage `name`, noting its time.
stage() {
  local name=$1 began=$SECONDS
  shift
  current=$name
  echo "== $name"
  "$@"
  timings+=("$(printf '%5d s  %s' $((SECONDS - began)) "$name")")
}

playwright() { (cd end2end && npx playwright test); }

stage "setup" scripts/setup.sh
stage "cargo fmt --check" cargo fmt --check
stage "clippy" cargo clippy --all-targets --locked -- -D warnings
stage "clippy (client, wasm32)" \
  cargo clippy -p kaisen-app --target wasm32-unknown-unknown --locked -- -D warnings
stage "cargo test (fuzz seed $KAISEN_FUZZ_SEED)" cargo test --locked
# The HTTP API tests again, on PostgreSQL (a private cluster of Debian's
# server, started and removed by the tests): one behaviour, both engines.
stage "API tests on PostgreSQL" \
  env KAISEN_TEST_ENGINE=postgres cargo test --locked -p kaisen-server --test api
stage "client build" cargo xtask client
stage "server build" cargo build -p kaisen-server -p kaisen-testkit --locked
stage "Playwright" playwright
stage "Firefox and WebKit" end2end/other-engines.sh
