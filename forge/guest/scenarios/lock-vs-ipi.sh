# lock-vs-ipi: forge_stsync (CPU1) holds forge_stats_lock and waits in smp_call_function_single() for CPU2, where forge_stcollect spins on forge_stats_lock with IRQs off.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,3 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,3"
insmod /forge/forge_ipilock.ko cpu_sync=1 cpu_collect=2
echo "FORGE: ipilock-loaded rc=$?"
sleep 2
forge_states none
