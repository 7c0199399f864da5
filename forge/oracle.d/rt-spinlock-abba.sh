OBJS="forge_rxq_lock:spinlock forge_txq_lock:spinlock"
WAITLISTS="rtmutex-spin:forge_rxq_lock rtmutex-spin:forge_txq_lock"
EXTRA="foreach forge_rxpoll forge_txdone rtqstat task -R pi_blocked_on,prio,__state,saved_state > crash.pi_blocked_on.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
