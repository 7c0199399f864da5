OBJS="forge_route_lock:rwlock_t forge_neigh_lock:rwlock_t forge_rw_inside:-"
EXTRA="dis queued_write_lock_slowpath > crash.dis-rwlock-slowpath.txt
dis queued_read_lock_slowpath >> crash.dis-rwlock-slowpath.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
