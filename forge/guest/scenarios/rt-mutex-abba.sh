# rt-mutex-abba (PREEMPT_RT): forge_post and forge_reconcile take forge_acct_mutex/forge_ledger_mutex in opposite order; forge_audit waits behind.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
insmod /forge/forge_rtabba.ko
echo "FORGE: rtabba-loaded rc=$?"
sleep 3
forge_states none
