OBJS="forge_lock_left:spinlock forge_lock_right:spinlock forge_abba_holding:-"
EXTRA="dis native_queued_spin_lock_slowpath > crash.dis-native_queued_spin_lock_slowpath.txt
dis forge_abba_take_left > crash.dis-forge_abba.txt
dis forge_abba_take_right >> crash.dis-forge_abba.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
