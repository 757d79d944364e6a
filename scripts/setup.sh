#!/usr/bin/env bash
# Installs what kaisen's build and tests need and is missing, from the
# package registries only. Safe to run again: it skips what is there.
# (end2end/other-engines.sh installs Firefox, WebKit and their drivers
# itself, when it first runs.)
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "setup: adding the wasm32 target"
  rustup target add wasm32-unknown-unknown
fi
# The client's one nightly (named once, in xtask/src/client.rs), with the
# standard library's source for -Zbuild-std; only the wasm build uses it.
wasm_toolchain=$(sed -n 's/^pub const WASM_TOOLCHAIN: &str = "\(.*\)";$/\1/p' xtask/src/client.rs)
if [[ -z $wasm_toolchain ]]; then
  echo "setup: no WASM_TOOLCHAIN in xtask/src/client.rs" >&2
  exit 1
fi
if ! rustup "+$wasm_toolchain" component list --installed 2>/dev/null | grep -q '^rust-src' ||
  ! rustup "+$wasm_toolchain" target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "setup: installing $wasm_toolchain for the client"
  rustup toolchain install "$wasm_toolchain" --profile minimal \
    --component rust-src --target wasm32-unknown-unknown
fi
# The test command's first checks.
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component-"; then
    echo "setup: adding $component"
    rustup component add "$component"
  fi
done

# Whether PostgreSQL 15 or newer is installed where Debian puts it (the
# newest is what testkit runs).
has_postgresql() {
  local initdb version
  for initdb in /usr/lib/postgresql/*/bin/initdb; do
    version=${initdb#/usr/lib/postgresql/}
    version=${version%%/*}
    [[ -x $initdb && $version =~ ^[0-9]+$ ]] && ((version >= 15)) && return 0
  done
  return 1
}

# Debian's Chromium for the browser tests; CJK fonts so that pages (and
# the printed receipt) lay out as a subscriber sees them; openssl for the
# e2e server's self-signed certificate (end2end/serve.sh); PostgreSQL for
# testkit's private clusters (the tests, the bench, the e2e server). The
# package starts a system cluster on port 5432 at install: testkit does
# not use it, its clusters take free ports of their own.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
command -v openssl >/dev/null || missing+=(openssl)
has_postgresql || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Playwright, and the client build's binaryen wasm-opt (>= 132), terser and
# csso, from npm; never
# `npx playwright install` (it downloads browsers from outside).
stamp=end2end/node_modules/.package-lock.json
if [[ ! -f $stamp || end2end/package-lock.json -nt $stamp ]]; then
  echo "setup: installing end2end's npm packages"
  (cd end2end && npm ci --no-audit --no-fund)
fi
