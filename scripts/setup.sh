#!/usr/bin/env bash
# What the tests need from outside npm, installed once (`npm test` runs this first, as does .ci/run):
# - Debian's python3-websockets: a peer nobody here wrote (test/Python.test.ts);
# - Debian's chromium: the browser the BrowserEngine suite runs in (test/BrowserEngine.runtimes.test.ts).
# As root with apt-get it installs what is missing (one `apt-get update`, then one install); otherwise it names the
# command to run. It never fails the test run itself: a test whose runtime is missing fails with the same advice.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if ! /usr/bin/python3 -c "import websockets" 2>/dev/null; then missing+=(python3-websockets); fi
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing ${missing[*]}; install with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  fi
fi

# Bun and Deno come from npm (devDependencies `bun` and `deno`); their install scripts move the binaries out of the
# platform packages, so look in both places.
any_executable() {
  for file in "$@"; do
    if [ -x "$file" ]; then return 0; fi
  done
  return 1
}
if ! any_executable node_modules/bun/bin/bun.exe node_modules/@oven/bun-*/bin/bun; then
  echo "setup: no Bun binary in node_modules; run: npm install" >&2
fi
if ! any_executable node_modules/deno/deno node_modules/@deno/*/deno; then
  echo "setup: no Deno binary in node_modules; run: npm install" >&2
fi
