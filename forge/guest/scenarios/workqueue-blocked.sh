# workqueue-blocked: forge_cmd_submit_work on the ordered workqueue forge_cmdq waits forever on forge_cmd_fw_ack; later items never run; flushers hang.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
insmod /forge/forge_cmdq.ko
echo "FORGE: cmdq-loaded rc=$?"
sleep 1
/forge/procpoke /proc/forge_cmdq flush cmdctl &
echo "FORGE: cmdctl (flush_workqueue via /proc/forge_cmdq) pid $!"
sleep 3
forge_states cmdctl
