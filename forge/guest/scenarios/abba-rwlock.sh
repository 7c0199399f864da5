# abba-rwlock: forge_route_upd (CPU2) and forge_neigh_gc (CPU3) take forge_route_lock/forge_neigh_lock (rwlock_t) in opposite order with IRQs off.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,1 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,1"
insmod /forge/forge_rwabba.ko cpu_upd=2 cpu_gc=3
echo "FORGE: rwabba-loaded rc=$?"
sleep 2
forge_states none
