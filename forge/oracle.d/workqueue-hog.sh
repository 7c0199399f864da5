OBJS="forge_stats_wq:- forge_stats_recalc_work:work_struct forge_stats_report_work:work_struct"
EXTRA="p cpu_worker_pools:1 > crash.p-cpu_worker_pools-1.txt
p __preempt_count:a > crash.p-preempt_count.txt
dis forge_stats_recalc > crash.dis-forge_stats_recalc.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
