# blk-stuck: block device fhole0 (forge_blkhole) stops completing requests; O_DIRECT and buffered readers hang.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
insmod /forge/forge_blkhole.ko
echo "FORGE: blkhole-loaded rc=$?"
ls -l /dev/fhole0
dd if=/dev/fhole0 of=/dev/null bs=64k count=16 2>&1 | sed "s/^/FORGE: healthy dd: /"
echo 1 > /sys/module/forge_blkhole/parameters/stalled
echo "FORGE: fhole0 stalled=$(cat /sys/module/forge_blkhole/parameters/stalled)"
/forge/dioread /dev/fhole0 0 dbscan &
/forge/dioread /dev/fhole0 8388608 dbscan &
dd if=/dev/fhole0 of=/dev/null bs=4k count=1 skip=6000 &
echo "FORGE: buffered dd pid $!"
dd if=/dev/zero of=/dev/fhole0 bs=4k count=2 seek=1000 conv=fsync 2>/dev/null &
echo "FORGE: writer dd (buffered write + fsync) pid $!"
sleep 3
forge_states "dbscan|dd"
cat /sys/block/fhole0/inflight | sed "s/^/FORGE: inflight /"
