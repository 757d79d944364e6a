#!/bin/sh
# Starts the real kaisen server for the end-to-end suite: a fresh database
# loaded from fixtures/lines.json, the built client from ../target/site, and
# a short work delay so applications complete while a test waits.
# Completion mails are written as .eml files into $DATA/mail.
#
# Environment: KAISEN_E2E_PORT (default 3917), KAISEN_E2E_DATA (the folder
# for the database and mails, emptied first; default .data),
# KAISEN_WORK_DELAY (default 4s), KAISEN_CONTACT (required: the contact
# details on the receipt, one line each), KAISEN_E2E_TLS=1 (serve HTTPS with
# a self-signed certificate for localhost and 127.0.0.1, made here with
# openssl into $DATA), KAISEN_E2E_ENGINE=postgres (the database on a
# private PostgreSQL cluster in $DATA/pg, started here with testkit and
# stopped when this script ends, however it ends), KAISEN_E2E_OPERATOR_PORT
# (serve the operator console there too, with the accounts of OPERATORS
# below made first; each one-time password in $DATA/operators/<name>).
# Every other `serve` flag can be given as its KAISEN_* variable (see
# server/src/config.rs), e.g. KAISEN_IDLE_TIMEOUT=20s.
set -eu
cd "$(dirname "$0")"
PORT="${KAISEN_E2E_PORT:-3917}"
DATA="${KAISEN_E2E_DATA:-.data}"
BIN=../target/debug/kaisen
TESTKIT=../target/debug/testkit
if [ -d "$DATA/pg" ]; then "$TESTKIT" stop --dir "$DATA/pg" >/dev/null 2>&1 || true; fi
rm -rf "$DATA"
mkdir -p "$DATA"
if [ "${KAISEN_E2E_ENGINE:-}" = postgres ]; then
  URL=$("$TESTKIT" start --dir "$DATA/pg")
  # A watchdog of its own session: it outlives this script (whatever signal
  # ends it) and stops the cluster once the script is gone.
  setsid sh -c "while kill -0 $$ 2>/dev/null; do sleep 1; done; \"$TESTKIT\" stop --dir \"$DATA/pg\"; rm -rf \"$DATA/pg\"" \
    </dev/null >/dev/null 2>&1 &
  set -- --database "$URL"
else
  set -- --db "$DATA/db"
fi
"$BIN" import fixtures/lines.json "$@"
# The console's accounts the specs log in with, as name:role, one per test
# (journey: console.spec.ts; screens: console-accessibility.spec.ts). Made
# before `serve`: sled locks its folder.
OPERATORS="journey:admin screens:admin"
if [ -n "${KAISEN_E2E_OPERATOR_PORT:-}" ]; then
  mkdir -p "$DATA/operators"
  for account in $OPERATORS; do
    name=${account%%:*}
    added=$("$BIN" operator add "$name" --role "${account#*:}" "$@")
    printf '%s\n' "$added" | sed -n 's/^one-time password: //p' >"$DATA/operators/$name"
    [ -s "$DATA/operators/$name" ] || { echo "serve.sh: no one-time password for $name in: $added" >&2; exit 1; }
  done
  export KAISEN_OPERATOR_ADDR="127.0.0.1:$KAISEN_E2E_OPERATOR_PORT"
fi
export KAISEN_MAIL_DIR="$DATA/mail"
if [ "${KAISEN_E2E_TLS:-}" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$DATA/key.pem" -out "$DATA/cert.pem"
  export KAISEN_TLS_CERT="$DATA/cert.pem" KAISEN_TLS_KEY="$DATA/key.pem"
fi
# The suite logs in from 127.0.0.1 many times a minute, some tests with one
# line again and again: the login limits are raised out of its way (the API
# tests cover them).
export KAISEN_LOGINS_PER_LINE="${KAISEN_LOGINS_PER_LINE:-1000}"
export KAISEN_LOGINS_PER_ADDRESS="${KAISEN_LOGINS_PER_ADDRESS:-100000}"
# Not exec'd: the watchdog waits for this script's process.
"$BIN" serve "$@" --site ../target/site --addr "127.0.0.1:$PORT" \
  --work-delay "${KAISEN_WORK_DELAY:-4s}" &
SERVER=$!
trap 'kill -TERM "$SERVER" 2>/dev/null' TERM INT
wait "$SERVER"
