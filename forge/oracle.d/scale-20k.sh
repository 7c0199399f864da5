OBJS="forge_cfg_sem forge_cfg_peer_ack"
WAITLISTS="rwsem:forge_cfg_sem swait:forge_cfg_peer_ack"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
