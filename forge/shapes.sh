#!/bin/bash
# forge/shapes.sh — more dump-file shapes of guests already forged, written by the real makedumpfile on the host,
# beside the dump they come from (test/cli/shapes.test.ts compares each with it: same dump ps/log/bt and verdict).
#
#   kdump capture, ELF (/proc/vmcore-like, nothing filtered; made by `CORE_COLLECTOR_OPTS="-E -d 0" run.sh --kdump`):
#     vmcore.kdump          makedumpfile -c -d 31            (the kdump-compressed file of the same guest)
#     vmcore.E31.elf        makedumpfile -E -d 31            (ELF with filtering: pages dropped, holes as segments)
#     vmcore.threads        makedumpfile --num-threads 2 -l -d 31
#     vmcore.split-1..3     makedumpfile --split -c -d 31    (one incident in three files)
#     vmcore.flat           makedumpfile -F -c -d 31         (the flattened stream, as sent over ssh)
#   kdump capture, kdump-compressed (`vmcore`):
#     vmcore.E.elf          makedumpfile -E -d 31 (ELF rewritten from the kdump file)
#   split set (vmcore.split-N):
#     vmcore.reassembled    makedumpfile --reassemble
# Usage: forge/shapes.sh <scenario dir>...   (default: every scenario under $FIXROOT, /var/tmp/coroner-forge)
set -euo pipefail
FIXROOT=${FIXROOT:-/var/tmp/coroner-forge}
mdf() { makedumpfile "$@" >/dev/null 2>&1 || { echo "makedumpfile $* failed" >&2; return 1; }; }
is_elf() { [ "$(head -c4 "$1" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; }
shape() {
  local d=$1
  if [ -f "$d/vmcore" ] && is_elf "$d/vmcore"; then
    [ -f "$d/vmcore.kdump" ] || mdf -c -d 31 "$d/vmcore" "$d/vmcore.kdump"
    [ -f "$d/vmcore.E31.elf" ] || mdf -E -d 31 "$d/vmcore" "$d/vmcore.E31.elf"
    [ -f "$d/vmcore.threads" ] || mdf --num-threads 2 -l -d 31 "$d/vmcore" "$d/vmcore.threads"
    [ -f "$d/vmcore.flat" ] || { makedumpfile -F -c -d 31 "$d/vmcore" > "$d/vmcore.flat" 2>/dev/null || { echo "makedumpfile -F failed" >&2; exit 1; }; }
    [ -f "$d/vmcore.split-1" ] || mdf --split -c -d 31 "$d/vmcore" "$d/vmcore.split-1" "$d/vmcore.split-2" "$d/vmcore.split-3"
  elif [ -f "$d/vmcore" ]; then
    [ -f "$d/vmcore.E.elf" ] || mdf -E -d 31 "$d/vmcore" "$d/vmcore.E.elf"
  fi
  if [ -f "$d/vmcore.split-1" ] && [ ! -f "$d/vmcore" ] && [ ! -f "$d/vmcore.reassembled" ]; then
    mapfile -t parts < <(ls "$d"/vmcore.split-* | sort -V)
    mdf --reassemble "${parts[@]}" "$d/vmcore.reassembled"
  fi
  ls -l "$d" | grep -E ' vmcore' || true
}
if [ $# -eq 0 ]; then set -- "$FIXROOT"/*/*/; fi
for d in "$@"; do shape "${d%/}"; done
