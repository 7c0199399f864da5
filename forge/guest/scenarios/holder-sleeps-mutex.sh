# holder-sleeps-mutex: forge_jcommit holds forge_jrnl_mutex and sleeps in wait_event() on forge_jrnl_commit_wq, never woken.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
insmod /forge/forge_jrnl.ko
echo "FORGE: jrnl-loaded rc=$?"
sleep 1
/forge/procpoke /proc/forge_jrnl commit jrnlctl &
echo "FORGE: jrnlctl (writer of /proc/forge_jrnl) pid $!"
sleep 3
forge_states jrnlctl
echo "FORGE: holder-sleeps-mutex-ready"
