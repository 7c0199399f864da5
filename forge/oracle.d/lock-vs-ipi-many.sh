OBJS="forge_shadow_lock:spinlock forge_shadow_mask:cpumask forge_shadow_flush_holding:- forge_shadow_walk_spinning:-"
EXTRA="dis smp_call_function_many_cond > crash.dis-smp_call_function_many_cond.txt
p call_single_queue:a > crash.p-call_single_queue.txt
p cfd_data:a > crash.p-cfd_data.txt
irq -s > crash.irq-s.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
