OBJS="forge_crc_rounds:- forge_crc_state:-"
EXTRA="dis forge_crc_fold_table > crash.dis-forge_crc_fold_table.txt
p pcpu_hot:a > crash.p-preempt_count.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
