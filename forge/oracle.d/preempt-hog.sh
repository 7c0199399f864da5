OBJS="forge_scrub_passes:- forge_scrub_sum:-"
EXTRA="dis forge_scrub_region > crash.dis-forge_scrub_region.txt
p __preempt_count:a > crash.p-preempt_count.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
