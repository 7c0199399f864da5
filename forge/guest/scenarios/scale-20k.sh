# scale-20k: 64 vCPUs, 20000 user threads; 40 of them (and 3 kthreads) hang behind forge_cfgcommit, which holds
# the rwsem forge_cfg_sem for write and sleeps on a completion nobody completes (holder-sleeps at scale).
echo 200000 > /proc/sys/kernel/threads-max
echo 200000 > /proc/sys/vm/max_map_count
echo "FORGE: cpus=$(nproc) threads-max=$(cat /proc/sys/kernel/threads-max) pid_max=$(cat /proc/sys/kernel/pid_max)"
insmod /forge/forge_cfgsem.ko
echo "FORGE: cfgsem-loaded rc=$?"
/forge/swarm 20000 40 /proc/forge_cfg > /tmp/swarm.out 2>&1 &
SW=$!
echo "FORGE: swarm pid $SW"
while ! grep -q 'all .* threads started' /tmp/swarm.out; do sleep 5; tail -1 /tmp/swarm.out | sed 's/^/FORGE: /'; done
echo "FORGE: swarm threads: $(ls /proc/$SW/task | wc -l); D tasks: $(grep -l '^State:.*D' /proc/[0-9]*/task/*/status 2>/dev/null | wc -l)"
sleep 25
echo "FORGE: scale-ready"
