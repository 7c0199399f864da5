# workqueue-hog: forge_stats_recalc_work on the bound workqueue forge_stats busy-loops on CPU1 for 120 s; forge_stflush waits in flush_work().
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,2,3 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,2,3"
insmod /forge/forge_wqhog.ko cpu=1 secs=120
echo "FORGE: wqhog-loaded rc=$?"
sleep 3
forge_states none
