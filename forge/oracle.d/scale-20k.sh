OBJS="forge_cfg_sem:rw_semaphore forge_cfg_peer_ack:completion"
WAITLISTS="rwsem:forge_cfg_sem swait:forge_cfg_peer_ack"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
