#!/usr/bin/env bash
# Cross-builds the addon for the Linux targets this linux-x64 host cannot build natively, with
# cargo-zigbuild and zig (from PyPI), and copies each result to
#   dist/<platform>/heapsnap-native.<platform>.node
#
#   platform          cargo target                     notes
#   linux-x64-gnu     x86_64-unknown-linux-gnu.2.17    glibc floor 2.17
#   linux-arm64-gnu   aarch64-unknown-linux-gnu.2.17   glibc floor 2.17 (aarch64 glibc starts at 2.17)
#   linux-x64-musl    x86_64-unknown-linux-musl        dynamic .so (-crt-static)
#   linux-arm64-musl  aarch64-unknown-linux-musl       dynamic .so (-crt-static)
#
# Usage: scripts/cross-build.sh [platform...]     (default: all four; runnable from any cwd)
# Then:  scripts/check-binaries.sh
#
# Everything it needs is installed on first use, and skipped once present:
#   - rust std for each target        rustup target add <triple>
#   - zig                             python venv in target/cross-tools/venv, pip install ziglang
#   - cargo-zigbuild                  cargo install --locked cargo-zigbuild (~/.cargo/bin)
# Builds use their own cargo target dir (target/cross, override with CROSS_TARGET_DIR) so they
# neither wait on nor invalidate the host build in target/. Besides target/ and dist/, the script
# writes only ~/.cargo/bin/cargo-zigbuild (+ cargo's registry cache) and rustup's target std libs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ZIGLANG_VERSION="${ZIGLANG_VERSION:-0.15.2}"
CARGO_ZIGBUILD_VERSION="${CARGO_ZIGBUILD_VERSION:-0.24.1}"
TOOLS="$ROOT/target/cross-tools"
TARGET_DIR="${CROSS_TARGET_DIR:-$ROOT/target/cross}"
DIST="$ROOT/dist"
LIB_NAME="libheapsnap_native.so"   # cdylib of crate heapsnap-native
BIN_NAME="heapsnap-native"         # package.json napi.binaryName

export PATH="$TOOLS/bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'cross-build: %s\n' "$*" >&2; exit 1; }

# platform -> cargo zigbuild target (the .2.17 suffix is cargo-zigbuild's glibc version pin)
zig_target_of() {
  case "$1" in
    linux-x64-gnu) echo x86_64-unknown-linux-gnu.2.17 ;;
    linux-arm64-gnu) echo aarch64-unknown-linux-gnu.2.17 ;;
    linux-x64-musl) echo x86_64-unknown-linux-musl ;;
    linux-arm64-musl) echo aarch64-unknown-linux-musl ;;
    *) die "unknown platform '$1' (known: linux-x64-gnu linux-arm64-gnu linux-x64-musl linux-arm64-musl)" ;;
  esac
}

if [ "$#" -gt 0 ]; then
  PLATFORMS=("$@")
else
  PLATFORMS=(linux-arm64-gnu linux-x64-musl linux-arm64-musl linux-x64-gnu)
fi
for p in "${PLATFORMS[@]}"; do zig_target_of "$p" >/dev/null; done

command -v cargo >/dev/null || die "cargo not found (need a rustup toolchain)"
command -v rustup >/dev/null || die "rustup not found"

# --- rust targets -------------------------------------------------------------------------
installed_targets="$(rustup target list --installed)"
for p in "${PLATFORMS[@]}"; do
  triple="$(zig_target_of "$p")"
  triple="${triple%.2.17}"
  if ! grep -qx "$triple" <<<"$installed_targets"; then
    log "rustup target add $triple"
    rustup target add "$triple"
  fi
done

# --- zig (PyPI ziglang, in a venv under target/) ---------------------------------------------
VENV="$TOOLS/venv"
if ! "$VENV/bin/python" -c 'import ziglang' >/dev/null 2>&1; then
  log "installing ziglang==$ZIGLANG_VERSION into $VENV"
  command -v python3 >/dev/null || die "python3 not found (needed for the ziglang package)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "ziglang==$ZIGLANG_VERSION"
fi
# cargo-zigbuild (and napi -x) want `zig` on PATH: link the wheel's binary into target/cross-tools/bin.
ZIG_BIN="$("$VENV/bin/python" -c 'import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
[ -x "$ZIG_BIN" ] || die "ziglang installed but $ZIG_BIN is missing"
mkdir -p "$TOOLS/bin"
ln -sfn "$ZIG_BIN" "$TOOLS/bin/zig"

# --- cargo-zigbuild (crates.io) ----------------------------------------------------------------
if ! command -v cargo-zigbuild >/dev/null; then
  log "cargo install --locked cargo-zigbuild@$CARGO_ZIGBUILD_VERSION"
  cargo install --locked cargo-zigbuild --version "$CARGO_ZIGBUILD_VERSION"
fi
log "tools: zig $(zig version), $(cargo-zigbuild --version 2>/dev/null || cargo zigbuild --version)"

# --- builds ----------------------------------------------------------------------------------
export CARGO_TARGET_DIR="$TARGET_DIR"
# Keep zig's compiled libc/compiler-rt cache and cargo-zigbuild's linker wrappers under target/
# too (they default to ~/.cache/zig and ~/.cache/cargo-zigbuild).
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$TOOLS/zig-cache}"
export CARGO_ZIGBUILD_CACHE_DIR="${CARGO_ZIGBUILD_CACHE_DIR:-$TOOLS/zigbuild-cache}"
for p in "${PLATFORMS[@]}"; do
  zt="$(zig_target_of "$p")"
  triple="${zt%.2.17}"
  flags="${RUSTFLAGS:-}"
  case "$triple" in
    # musl targets default to a static CRT, which cannot produce a cdylib: link musl dynamically.
    *-musl) flags="${flags:+$flags }-C target-feature=-crt-static" ;;
  esac
  log "[$p] RUSTFLAGS='$flags' cargo zigbuild --release --lib --target $zt"
  start=$SECONDS
  RUSTFLAGS="$flags" cargo zigbuild --release --lib --target "$zt"
  src="$TARGET_DIR/$triple/release/$LIB_NAME"
  [ -f "$src" ] || die "[$p] build finished but $src is missing"
  mkdir -p "$DIST/$p"
  cp -f "$src" "$DIST/$p/$BIN_NAME.$p.node"
  log "[$p] -> dist/$p/$BIN_NAME.$p.node ($((SECONDS - start))s)"
done

log "done; verify with scripts/check-binaries.sh"
