#!/bin/bash
# regen-expect.sh: rewrite expect.json of every forged fixture under $FIXROOT that has a template (no crash needed)
HERE=$(cd "$(dirname "$0")/.." && pwd)
FIXROOT=${FIXROOT:-/var/tmp/coroner-forge}
for d in "$FIXROOT"/*/*/; do
  d=${d%/}; s=$(basename "$d"); k=$(basename "$(dirname "$d")")
  [ -f "$HERE/expect/$s.json" ] && [ -f "$d/crash.foreach-bt.txt" ] || continue
  python3 "$HERE/lib/mkexpect.py" "$HERE/expect/$s.json" "$d" "$k" > "$d/expect.json" && echo "$k/$s"
done
