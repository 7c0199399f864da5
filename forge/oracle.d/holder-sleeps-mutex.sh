OBJS="forge_jrnl_mutex:mutex forge_jrnl_commit_wq:wait_queue_head forge_jrnl_flushed:-"
WAITLISTS="mutex:forge_jrnl_mutex waitq:forge_jrnl_commit_wq"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
