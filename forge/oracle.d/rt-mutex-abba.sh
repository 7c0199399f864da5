OBJS="forge_acct_mutex forge_ledger_mutex"
WAITLISTS="rtmutex:forge_acct_mutex.rtmutex rtmutex:forge_ledger_mutex.rtmutex"
EXTRA="foreach forge_post forge_reconcile forge_audit task -R pi_blocked_on,prio,normal_prio,__state > crash.pi_blocked_on.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
