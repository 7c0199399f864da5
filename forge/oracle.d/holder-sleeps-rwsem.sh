# second pass: the rwsem, its waiters, the completion the holder sleeps on
OBJS="forge_cfg_sem forge_cfg_peer_ack forge_cfg_locked"
WAITLISTS="rwsem:forge_cfg_sem swait:forge_cfg_peer_ack"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
