OBJS="forge_cmdq_wq:- forge_cmd_fw_ack:completion forge_cmd_submit_work:work_struct forge_cmd_cleanup_work:work_struct forge_cmd_stats_work:work_struct"
WAITLISTS="swait:forge_cmd_fw_ack"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
