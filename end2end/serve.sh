#!/bin/sh
# Starts the real kaisen server for the end-to-end suite: a fresh database
# loaded from fixtures/lines.json, the built client from ../target/site, and
# a short work delay so applications complete while a test waits.
# Completion mails are written as .eml files into .data/mail.
set -eu
cd "$(dirname "$0")"
PORT="${KAISEN_E2E_PORT:-3917}"
BIN=../target/debug/kaisen
rm -rf .data
mkdir -p .data
"$BIN" import fixtures/lines.json --db .data/db
export KAISEN_MAIL_DIR=.data/mail
exec "$BIN" serve --db .data/db --site ../target/site --addr "127.0.0.1:$PORT" --work-delay 4s
