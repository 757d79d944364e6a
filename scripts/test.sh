#!/usr/bin/env bash
# Runs every test (installing what is missing first): the shared crate's
# unit tests, the server's HTTP, fuzz and crash tests, then the release build
# of the client and the Playwright suite against the real server.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh
cargo test --locked
cargo xtask client
cargo build -p kaisen-server --locked
(cd end2end && npx playwright test)
echo "all tests passed in $(( $(date +%s) - start )) s"
