OBJS="forge_cmdq_wq forge_cmd_fw_ack forge_cmd_submit_work forge_cmd_cleanup_work forge_cmd_stats_work"
WAITLISTS="swait:forge_cmd_fw_ack"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
