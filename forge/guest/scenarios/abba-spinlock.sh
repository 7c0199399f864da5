# abba-spinlock: forge_abba_a (CPU1) and forge_abba_b (CPU2) take forge_lock_left/forge_lock_right in opposite order with IRQs off.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,3 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,3"
insmod /forge/forge_abba.ko cpu_a=1 cpu_b=2
echo "FORGE: abba-loaded rc=$?"
sleep 2
forge_states none
