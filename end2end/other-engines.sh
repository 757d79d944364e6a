#!/usr/bin/env bash
# Flow A and flow B in Firefox and WebKit (SPEC §6 Browsers), over WebDriver:
# Playwright's own Firefox and WebKit builds cannot be downloaded here, so
# this drives Debian's firefox-esr (through geckodriver, built with cargo)
# and WebKitGTK's MiniBrowser (through WebKitWebDriver, under Xvfb) with
# WebdriverIO (other-engines/journeys.mjs), against a server of its own.
#
#     end2end/other-engines.sh            # both engines
#     ENGINES=firefox end2end/other-engines.sh
#
# Installs what is missing first (apt-get, cargo install, npm ci). Needs the
# client built (cargo xtask client) and the server (cargo build -p
# kaisen-server), as the Playwright suite does. scripts/test.sh runs it last
# (the first run installs two browsers and builds geckodriver: some minutes).
set -euo pipefail
cd "$(dirname "$0")"

PORT="${KAISEN_ENGINES_PORT:-3919}"
GECKODRIVER_PORT="${GECKODRIVER_PORT:-4444}"
WEBKITDRIVER_PORT="${WEBKITDRIVER_PORT:-4445}"
ENGINES="${ENGINES:-firefox,webkit}"
export PATH="$HOME/.cargo/bin:$PATH"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# What is missing.
packages=()
[ -x /usr/lib/firefox-esr/firefox-esr ] || packages+=(firefox-esr)
command -v WebKitWebDriver >/dev/null || packages+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null || packages+=(xvfb xauth)
command -v curl >/dev/null || packages+=(curl)
if [ "${#packages[@]}" -gt 0 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${packages[@]}"
fi
# Debian has no geckodriver, and the npm one downloads it from outside.
if [[ ",$ENGINES," == *",firefox,"* ]] && ! command -v geckodriver >/dev/null; then
  cargo install geckodriver --version 0.37.1 --locked
fi
[ -d other-engines/node_modules ] || (cd other-engines && npm ci --no-audit --no-fund)

# Each started in its own process group (setsid), ended as a group.
groups=()
cleanup() {
  for pid in "${groups[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_for() { # url what
  for _ in $(seq 1 120); do
    if curl -s -o /dev/null "$1"; then return 0; fi
    sleep 0.5
  done
  echo "$2 did not start" >&2
  return 1
}

# serve needs the operator's contact details (--contact); these say it is a test.
KAISEN_CONTACT="【E2E】回線情報通知 試験受付窓口" \
  KAISEN_E2E_PORT="$PORT" KAISEN_E2E_DATA=.data-engines RUST_LOG=warn setsid ./serve.sh >/dev/null &
groups+=($!)
wait_for "http://127.0.0.1:$PORT/" "the server"

if [[ ",$ENGINES," == *",firefox,"* ]]; then
  # MOZ_REMOTE_SETTINGS_DEVTOOLS: or Firefox keeps trying to reach outside hosts.
  MOZ_REMOTE_SETTINGS_DEVTOOLS=1 setsid geckodriver --port "$GECKODRIVER_PORT" --log error >/dev/null 2>&1 &
  groups+=($!)
  wait_for "http://127.0.0.1:$GECKODRIVER_PORT/status" "geckodriver"
fi
if [[ ",$ENGINES," == *",webkit,"* ]]; then
  setsid xvfb-run -a WebKitWebDriver --port="$WEBKITDRIVER_PORT" >/dev/null 2>&1 &
  groups+=($!)
  wait_for "http://127.0.0.1:$WEBKITDRIVER_PORT/status" "WebKitWebDriver"
fi

KAISEN_BASE_URL="http://127.0.0.1:$PORT" GECKODRIVER_PORT="$GECKODRIVER_PORT" \
  WEBKITDRIVER_PORT="$WEBKITDRIVER_PORT" ENGINES="$ENGINES" node other-engines/journeys.mjs
