# holder-sleeps-rwsem: forge_cfgcommit holds forge_cfg_sem for write and sleeps on a completion nobody completes.
forge_states() {  # print state/wchan of the test tasks (harness output); $1: extra comm regex
  for d in /proc/[0-9]*; do c=$(cat $d/comm 2>/dev/null) || continue
    echo "$c" | grep -q -E "^(forge_.*|kworker.*|jbd2.*|$1)$" || continue
    echo "FORGE: pid ${d#/proc/} comm=$c state=$(awk '{print $3}' $d/stat) cpu=$(awk '{print $39}' $d/stat) wchan=$(cat $d/wchan 2>/dev/null)"
  done
}
insmod /forge/forge_cfgsem.ko
echo "FORGE: cfgsem-loaded rc=$?"
sleep 1
/forge/procpoke /proc/forge_cfg - cfgctl &
echo "FORGE: cfgctl (reader of /proc/forge_cfg) pid $!"
sleep 3
forge_states cfgctl
echo "FORGE: holder-sleeps-rwsem-ready"
