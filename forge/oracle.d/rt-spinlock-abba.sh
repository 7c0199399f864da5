OBJS="forge_rxq_lock forge_txq_lock"
WAITLISTS="rtmutex:forge_rxq_lock.lock rtmutex:forge_txq_lock.lock"
EXTRA="foreach forge_rxpoll forge_txdone rtqstat task -R pi_blocked_on,prio,__state,saved_state > crash.pi_blocked_on.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
