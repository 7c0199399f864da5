OBJS="forge_jrnl_mutex forge_jrnl_commit_wq forge_jrnl_flushed"
WAITLISTS="mutex:forge_jrnl_mutex waitq:forge_jrnl_commit_wq"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
