# sourced by forge.sh while it assembles the guest initramfs ($R): a small ext4 image
# (with a journal, so jbd2 runs) that the guest copies onto fvdisk0 before mounting it.
mkdir -p "$R/fsimg"
rm -f "$OUT/spool.img"
mkfs.ext4 -q -F -L spool -b 4096 -J size=4 "$OUT/spool.img" 24M
gzip -c "$OUT/spool.img" > "$R/fsimg/spool.img.gz"
