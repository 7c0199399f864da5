# preempt-hog: forge_scrubd (CPU1) busy-loops in forge_scrub_region() with preemption disabled for 100 s.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,2,3 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,2,3"
insmod /forge/forge_scrub.ko cpu=1 secs=100
echo "FORGE: scrub-loaded rc=$?"
sleep 3
forge_states none
