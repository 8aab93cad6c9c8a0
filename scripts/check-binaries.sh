#!/usr/bin/env bash
# Verifies the addon binaries that scripts/cross-build.sh put in dist/ (or the .node files given
# as arguments), with readelf only (binutils' readelf reads ELF files of any architecture):
#   machine  ELF64 shared object for the platform's CPU (x64 -> X86-64, arm64 -> AArch64)
#   export   napi_register_module_v1 is a defined GLOBAL FUNC in the dynamic symbol table
#   libc     musl: no NEEDED glibc library (libc.so.6, ld-linux*) and no GLIBC_ version reference
#            gnu:  NEEDED libc.so.6, and no GLIBC_ version reference newer than $GLIBC_FLOOR (2.17)
#   load     linux-x64-gnu on an x86_64 glibc host: process.dlopen() in node must not throw and
#            must register exports; ok(N) = N exports (every other platform: skip)
# The platform comes from the file name, <binaryName>.<platform>.node.
# Prints one row per file and exits 1 if any check failed (2 if there was nothing to check).
#
# Usage: scripts/check-binaries.sh [file.node...]     (runnable from any cwd)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GLIBC_FLOOR="${GLIBC_FLOOR:-2.17}"

command -v readelf >/dev/null || { echo "check-binaries: readelf not found (apt-get install binutils)" >&2; exit 2; }

if [ "$#" -gt 0 ]; then
  FILES=("$@")
else
  shopt -s nullglob
  FILES=("$ROOT"/dist/*/*.node)
  shopt -u nullglob
fi
[ "${#FILES[@]}" -gt 0 ] || { echo "check-binaries: no dist/*/*.node files (run scripts/cross-build.sh first)" >&2; exit 2; }

# version_le A B: true when dotted version A <= B, compared numerically field by field.
version_le() {
  local IFS=.
  local -a a=($1) b=($2)
  local i n=$(( ${#a[@]} > ${#b[@]} ? ${#a[@]} : ${#b[@]} ))
  for ((i = 0; i < n; i++)); do
    local x="${a[i]:-0}" y="${b[i]:-0}"
    if ((10#$x < 10#$y)); then return 0; fi
    if ((10#$x > 10#$y)); then return 1; fi
  done
  return 0
}

host_can_load_x64_gnu() {
  # (capture first: `ldd | grep -q` can die of SIGPIPE under pipefail)
  local v
  v="$(ldd --version 2>&1 || true)"
  [ "$(uname -m)" = x86_64 ] && command -v node >/dev/null && grep -qiE 'glibc|gnu libc' <<<"$v"
}

fmt='%-6s %-17s %-9s %-6s %-5s %-10s %-7s %s\n'
echo "checking ${#FILES[@]} file(s), glibc floor $GLIBC_FLOOR:"
printf '  %s\n' "${FILES[@]#"$ROOT"/}"
echo
printf "$fmt" RESULT PLATFORM MACHINE EXPORT LIBC MAX_GLIBC LOAD NEEDED
printf "$fmt" ------ -------- ------- ------ ---- --------- ---- ------
failures=0
details=()

for f in "${FILES[@]}"; do
  problems=()
  name="$(basename "$f" .node)"
  platform="${name##*.}"
  rel="${f#"$ROOT"/}"

  if [ ! -f "$f" ]; then
    printf "$fmt" FAIL "$platform" - - - - - "(missing)"
    details+=("$rel: file not found")
    failures=$((failures + 1))
    continue
  fi

  # (d) machine / class / type
  header="$(readelf -hW "$f" 2>&1 || true)"
  machine="$(sed -n 's/^ *Machine: *//p' <<<"$header")"
  class="$(sed -n 's/^ *Class: *//p' <<<"$header")"
  type="$(sed -n 's/^ *Type: *\([A-Z]*\).*/\1/p' <<<"$header")"
  case "$platform" in
    *-x64-*) want_machine="Advanced Micro Devices X86-64"; short_want=x86-64 ;;
    *-arm64-*) want_machine="AArch64"; short_want=aarch64 ;;
    *) want_machine="?"; short_want="?"; problems+=("unknown platform '$platform' in file name") ;;
  esac
  case "$machine" in
    "Advanced Micro Devices X86-64") short_machine=x86-64 ;;
    AArch64) short_machine=aarch64 ;;
    "") short_machine="not-ELF" ;;
    *) short_machine="$machine" ;;
  esac
  machine_ok=ok
  if [ "$machine" != "$want_machine" ] || [ "$class" != ELF64 ] || [ "$type" != DYN ]; then
    machine_ok=FAIL
    problems+=("ELF is '$class $type $machine', want 'ELF64 DYN $want_machine'")
  fi

  # (a) napi_register_module_v1 defined and exported
  dynsyms="$(readelf --dyn-syms -W "$f" 2>/dev/null || true)"
  export_ok=FAIL
  # columns: Num: Value Size Type Bind Vis Ndx Name
  if awk '$8 == "napi_register_module_v1" && $4 == "FUNC" && $5 == "GLOBAL" && $7 != "UND" { found = 1 } END { exit !found }' <<<"$dynsyms"; then
    export_ok=ok
  else
    problems+=("napi_register_module_v1 is not a defined GLOBAL FUNC in .dynsym")
  fi

  # (b)/(c) libc
  needed="$(readelf -dW "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd, - || true)"
  versions="$( { readelf -VW "$f" 2>/dev/null; printf '%s\n' "$dynsyms"; } | grep -oE 'GLIBC_[A-Za-z0-9_.]+' | sed 's/^GLIBC_//' | sort -u -V || true)"
  max_glibc="$(grep -E '^[0-9]+(\.[0-9]+)*$' <<<"$versions" | sort -V | tail -n 1 || true)"
  libc_ok=ok
  case "$platform" in
    *-musl)
      if grep -qE '(^|,)(libc\.so\.6|ld-linux[^,]*)(,|$)' <<<"$needed"; then
        libc_ok=FAIL; problems+=("musl build NEEDs a glibc library: $needed")
      fi
      if [ -n "$versions" ]; then
        libc_ok=FAIL; problems+=("musl build references glibc versions: $(paste -sd' ' <<<"$versions")")
      fi
      ;;
    *-gnu)
      if ! grep -qE '(^|,)libc\.so\.6(,|$)' <<<"$needed"; then
        libc_ok=FAIL; problems+=("gnu build does not NEED libc.so.6 (NEEDED: ${needed:-none})")
      fi
      if [ -z "$max_glibc" ]; then
        libc_ok=FAIL; problems+=("gnu build has no GLIBC_ version references")
      fi
      while IFS= read -r v; do
        [ -n "$v" ] || continue
        if ! [[ "$v" =~ ^[0-9]+(\.[0-9]+)*$ ]]; then
          libc_ok=FAIL; problems+=("gnu build references non-numeric version GLIBC_$v")
        elif ! version_le "$v" "$GLIBC_FLOOR"; then
          libc_ok=FAIL; problems+=("gnu build references GLIBC_$v > GLIBC_$GLIBC_FLOOR")
        fi
      done <<<"$versions"
      ;;
    *) libc_ok=FAIL; problems+=("platform '$platform' is neither -gnu nor -musl") ;;
  esac

  # load test where this host can
  load=skip
  if [ "$platform" = linux-x64-gnu ] && host_can_load_x64_gnu; then
    abs="$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"
    # dlopen runs napi_register_module_v1; require that it registered at least one export.
    js='const m = { exports: {} }; process.dlopen(m, process.argv[1]);
const n = Object.keys(m.exports).length; if (!n) throw new Error("no exports registered"); console.log(n)'
    if out="$(node -e "$js" "$abs" 2>&1)"; then
      load="ok($out)"
    else
      load=FAIL
      problems+=("node process.dlopen failed: $(head -n 3 <<<"$out" | paste -sd' ' -)")
    fi
  fi

  result=PASS
  if [ "${#problems[@]}" -gt 0 ]; then
    result=FAIL
    failures=$((failures + 1))
    for p in "${problems[@]}"; do details+=("$rel: $p"); done
  fi
  [ "$machine_ok" = ok ] || short_machine="$short_machine!=$short_want"
  printf "$fmt" "$result" "$platform" "$short_machine" "$export_ok" "$libc_ok" "${max_glibc:-none}" "$load" "${needed:-none}"
done

echo
if [ "$failures" -gt 0 ]; then
  printf '%s\n' "${details[@]}"
  echo "check-binaries: $failures of ${#FILES[@]} file(s) FAILED"
  exit 1
fi
echo "check-binaries: all ${#FILES[@]} file(s) passed (glibc floor $GLIBC_FLOOR)"
