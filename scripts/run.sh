#!/usr/bin/env bash
# Runs the portal with demo data on http://127.0.0.1:3000 (installing what
# is missing first). The database lives in ./data/demo; delete it to start
# over.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo xtask client
cargo build --release -p kaisen-server
exec target/release/kaisen serve --addr "${KAISEN_ADDR:-127.0.0.1:3000}" --db "${KAISEN_DB:-data/demo}" --demo "$@"
