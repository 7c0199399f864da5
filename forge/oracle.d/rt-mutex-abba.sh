OBJS="forge_acct_mutex:mutex forge_ledger_mutex:mutex"
WAITLISTS="rtmutex-mutex:forge_acct_mutex rtmutex-mutex:forge_ledger_mutex"
EXTRA="foreach forge_post forge_reconcile forge_audit task -R pi_blocked_on,prio,normal_prio,__state,saved_state > crash.pi_blocked_on.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
