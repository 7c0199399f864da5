#!/bin/bash
# forge/run.sh [--kdump | --oracle | --sync] <kernel-short> <scenario>
#   syncs the shared forge (/work/shared/forge, read-only) into $FORGE_TOOL (/var/tmp/coroner-forge-tool),
#   overlays this folder (scenarios, modules, user programs, oracle.d, scenario texts, table, patches),
#   then runs forge.sh (default), forge-kdump.sh (--kdump) or only the oracles (--oracle), and writes
#   expect.json from expect/<scenario>.json + the crash oracle. Output: $FIXROOT (/var/tmp/coroner-forge).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${FORGE_SRC:-/work/shared/forge}
[ -d "$SRC" ] || SRC=$(cd "$HERE/../../shared/forge" && pwd)
TOOL=${FORGE_TOOL:-/var/tmp/coroner-forge-tool}
export FIXROOT=${FIXROOT:-/var/tmp/coroner-forge}
export WORK=${WORK:-/var/tmp/forge/work}     # lib/mkscenario.sh reads /var/tmp/forge/work/<k>/<s>/accel
mode=plain
case "${1:-}" in --kdump) mode=kdump; shift;; --oracle) mode=oracle; shift;; --oracle2) mode=oracle2; shift;; --sync) mode=sync; shift;; esac

sync_tool() {
  rm -rf "$TOOL.new"; mkdir -p "$TOOL.new"
  cp -a "$SRC/." "$TOOL.new/"; chmod -R u+w "$TOOL.new"
  for d in guest modules user oracle.d scenarios lib; do
    [ -d "$HERE/$d" ] && { mkdir -p "$TOOL.new/$d"; cp -r "$HERE/$d/." "$TOOL.new/$d/"; }
  done
  cat "$HERE/modules/Kbuild.add" >> "$TOOL.new/modules/Kbuild"; rm -f "$TOOL.new/modules/Kbuild.add"
  cat "$HERE/kernels.add" >> "$TOOL.new/kernels.conf"
  cp "$HERE/scenarios.local.sh" "$TOOL.new/"
  bash "$HERE/patch-forge.sh" "$TOOL.new"
  rm -rf "$TOOL"; mv "$TOOL.new" "$TOOL"
}
sync_tool
[ "$mode" = sync ] && { echo "synced $TOOL"; exit 0; }
K=${1:?kernel short name}; S=${2:?scenario}
[ -n "$(awk -v k="$K" '$1==k' "$TOOL/kernels.conf")" ] || { echo "unknown kernel $K"; exit 2; }
if [ "${ELF_SHAPES:-0}" = 1 ]; then   # also QEMU ELF dumps of the same stopped guest (paging=true and false)
  mkdir -p "$WORK/elf-shapes"; export ELF_DUMP=$WORK/elf-shapes/$K-$S.paging.elf ELF_PAGING=1 ELF_DUMP_PLAIN=$WORK/elf-shapes/$K-$S.plain.elf
  rm -f "$ELF_DUMP" "$ELF_DUMP_PLAIN"
fi
case $mode in
  plain)  "$TOOL/forge.sh" "$K" "$S"; FIXK=$K
          if [ "${ELF_SHAPES:-0}" = 1 ]; then
            mv "$ELF_DUMP" "$FIXROOT/$K/$S/vmcore.paging.elf"; mv "$ELF_DUMP_PLAIN" "$FIXROOT/$K/$S/vmcore.elf"
            ls -l "$FIXROOT/$K/$S"/vmcore.*
          fi ;;
  kdump)  WORK=${KDUMP_WORK:-/var/tmp/forge/kdump-work} "$TOOL/forge-kdump.sh" "$K" "$S"; FIXK=$K-kdump ;;
  oracle) FIXK=${FIXK:-$K}
          if [ "$FIXK" = "$K" ]; then "$TOOL/oracle.sh" "$K" "$S" && "$TOOL/lib/mkscenario.sh" "$K" "$S"
          else FIXK=$FIXK VMCORE_NAME=vmcore "$TOOL/oracle.sh" "$K" "$S" && "$TOOL/lib/mkscenario-kdump.sh" "$K" "$S"; fi ;;
  oracle2) FIXK=${FIXK:-$K}   # only our second pass (oracle.d/<s>.sh) + expect.json, on an existing fixture
          ( export FIX=$FIXROOT/$FIXK/$S VMLINUX=/usr/lib/debug/boot/vmlinux-$(awk -v k="$K" '$1==k{print $2}' "$TOOL/kernels.conf")
            export VMCORE=$FIX/${VMCORE_NAME:-vmcore.kdump} CRASH=${CRASH:-/var/tmp/forge/crashsrc/crash-8.0.6/crash}
            [ "$FIXK" = "$K" ] || VMCORE=$FIX/${VMCORE_NAME:-vmcore}
            crash_run() { { cat "$1"; echo quit; } | "$CRASH" -s "$VMLINUX" "$VMCORE" 2>&1; }
            cd "$FIX" && . "$TOOL/oracle.d/$S.sh" ) ;;
esac
if [ -f "$HERE/expect/$S.json" ] && [ -f "$FIXROOT/$FIXK/$S/crash.ps.txt" ]; then
  python3 "$HERE/lib/mkexpect.py" "$HERE/expect/$S.json" "$FIXROOT/$FIXK/$S" "$FIXK" > "$FIXROOT/$FIXK/$S/expect.json"
  echo "expect.json:"; cat "$FIXROOT/$FIXK/$S/expect.json"
fi
