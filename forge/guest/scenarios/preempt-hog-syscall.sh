# preempt-hog-syscall: user process crcpush (pinned to CPU2) writes 100 to /proc/forge_crc: forge_crc_fold_table() loops 100 s with BH disabled inside write().
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,1,3 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,1,3"
insmod /forge/forge_crc.ko
echo "FORGE: crc-loaded rc=$?"
sleep 1
taskset -c 2 /forge/procpoke /proc/forge_crc 100 crcpush &
echo "FORGE: crcpush pid $!"
sleep 3
forge_states crcpush
