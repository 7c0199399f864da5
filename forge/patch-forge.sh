#!/bin/bash
# patch-forge.sh TOOLDIR: the small edits coroner's scenarios need in a copy of the shared forge.
set -euo pipefail
T=${1:?tool dir}
for f in forge.sh forge-kdump.sh; do
  # unknown scenarios go to our table (scenarios.local.sh) instead of failing
  sed -i 's|^  \*) echo "unknown scenario \$S"; exit 2 ;;$|  *) . "$FORGE/scenarios.local.sh" ;;|' "$T/$f"
  grep -q 'scenarios.local.sh' "$T/$f" || { echo "patch-forge: case line not found in $f"; exit 1; }
  # per-scenario host hook while the initramfs is assembled (e.g. a filesystem image for the guest)
  sed -i '/^cp "\$FORGE\/guest\/scenarios\/\$S.sh" "\$R\/scenario"$/a if [ -f "$FORGE/guest/hooks/$S.sh" ]; then . "$FORGE/guest/hooks/$S.sh"; fi' "$T/$f"
  grep -q 'guest/hooks' "$T/$f" || { echo "patch-forge: hook point not found in $f"; exit 1; }
  # build only the scenario's own modules (all 18 take minutes on 2 busy cores)
  sed -i '/^cp "\$FORGE"\/modules\/\*.c "\$FORGE"\/modules\/Kbuild "\$WORK\/\$K\/modules\/"$/a SMODS=$(grep -o "forge_[a-z_]*\\.ko" "$FORGE/guest/scenarios/$S.sh" | sort -u | sed "s/\\.ko$/.o/" | tr "\\n" " " || true); if [ -n "$SMODS" ]; then echo "obj-m := $SMODS" > "$WORK/$K/modules/Kbuild"; fi' "$T/$f"
  grep -q 'SMODS=' "$T/$f" || { echo "patch-forge: module build line not found in $f"; exit 1; }
done
# DUMP_PAGING=1: dump-guest-memory paging=true (ELF only): PT_LOADs carry guest-virtual addresses
sed -i "s|cmd(f, 'dump-guest-memory', paging=False,|cmd(f, 'dump-guest-memory', paging=os.environ.get('DUMP_PAGING') == '1',|" "$T/lib/qmp.py"
grep -q DUMP_PAGING "$T/lib/qmp.py" || { echo "patch-forge: qmp.py not patched"; exit 1; }
# ELF_DUMP_PLAIN=<file>: one more dump of the same stopped guest, ELF with paging=false (after the extra ELF_DUMP)
python3 - "$T/lib/qmp.py" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
a = "            print('dump-guest-memory (ELF) done')\n"
b = a + ("        if os.environ.get('ELF_DUMP_PLAIN'):\n"
         "            cmd(f, 'dump-guest-memory', paging=False, protocol='file:' + os.environ['ELF_DUMP_PLAIN'])\n"
         "            print('dump-guest-memory (ELF, paging=false) done')\n")
assert a in s, 'qmp.py: ELF_DUMP print not found'
open(p, 'w').write(s.replace(a, b))
PY
# scenario.md: the guest's real size (scale scenario)
sed -i 's|4 vCPUs, 256 MiB|${NCPU:-4} vCPUs, ${MEM:-256M} RAM|' "$T/lib/mkscenario.sh"
