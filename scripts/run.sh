#!/usr/bin/env bash
# Runs the portal with demo data on http://127.0.0.1:3000, and the operator
# console on http://127.0.0.1:3001/console/ (installing what is missing
# first). The database lives in ./data/demo; delete it to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo xtask client
cargo build --release -p kaisen-server
DB="${KAISEN_DB:-data/demo}"
CONSOLE="${KAISEN_OPERATOR_ADDR:-127.0.0.1:3001}"
# The operator console's first admin, `demo`, made once, before `serve`
# (sled locks the folder while it runs): its one-time password is printed
# here, the first time only.
if ! target/release/kaisen operator list --db "$DB" | grep -q '^demo '; then
  target/release/kaisen operator add demo --role admin --db "$DB"
  echo "The operator console: http://$CONSOLE/console/ (log in as demo with the one-time password above)."
fi
exec target/release/kaisen serve --addr "${KAISEN_ADDR:-127.0.0.1:3000}" --db "$DB" --demo \
  --operator-addr "$CONSOLE" "$@"
