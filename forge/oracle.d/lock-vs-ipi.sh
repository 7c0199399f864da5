OBJS="forge_stats_lock:spinlock forge_stats_sync_holding:- forge_stats_collect_spinning:-"
EXTRA="dis smp_call_function_single > crash.dis-smp_call_function_single.txt
p call_single_queue:a > crash.p-call_single_queue.txt
p csd_data:a > crash.p-csd_data.txt
irq -s > crash.irq-s.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
