# blk-stuck-fs: ext4 on fvdisk0 (forge_vdisk); the controller stops completing requests: fsync writer, jbd2 and sync hang.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
insmod /forge/forge_vdisk.ko
echo "FORGE: vdisk-loaded rc=$?"
zcat /fsimg/spool.img.gz | dd of=/dev/fvdisk0 bs=1M conv=fsync 2>&1 | sed "s/^/FORGE: dd: /"
mkdir -p /spool && mount -t ext4 -o data=ordered /dev/fvdisk0 /spool && echo "FORGE: mounted fvdisk0 on /spool"
/forge/logwriter /spool/app.log applog &
echo "FORGE: applog (logwriter) pid $!"
sleep 4
echo 1 > /sys/module/forge_vdisk/parameters/hang
echo "FORGE: fvdisk0 controller hang injected"
sleep 1
sync &
echo "FORGE: sync pid $!"
sleep 6
forge_states "applog|sync"
cat /sys/block/fvdisk0/inflight | sed "s/^/FORGE: inflight /"
