# rt-spinlock-abba (PREEMPT_RT): forge_rxpoll (CPU1) and forge_txdone (CPU2) take forge_rxq_lock/forge_txq_lock (spinlock_t = rtmutex) in opposite order; rtqstat waits too.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
taskset -p -c 0,3 $$ >/dev/null; echo "FORGE: scenario shell pinned to CPUs 0,3"
insmod /forge/forge_rtspin.ko
echo "FORGE: rtspin-loaded rc=$?"
sleep 2
/forge/procpoke /proc/forge_rtq - rtqstat &
echo "FORGE: rtqstat (reader of /proc/forge_rtq) pid $!"
sleep 3
forge_states rtqstat
sleep 30
forge_states rtqstat
echo "FORGE: rt-spinlock-abba-ready"
