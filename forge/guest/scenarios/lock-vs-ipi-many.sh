# lock-vs-ipi-many: forge_shflush (CPU3) holds forge_shadow_lock and waits in on_each_cpu_mask() for CPUs 1,2; forge_shwalk (CPU1) spins on forge_shadow_lock with IRQs off.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,2 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,2"
insmod /forge/forge_shadow.ko cpu_flush=3 cpu_walk=1 cpu_other=2
echo "FORGE: shadow-loaded rc=$?"
sleep 2
forge_states none
