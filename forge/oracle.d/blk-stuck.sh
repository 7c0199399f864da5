OBJS="forge_blkhole"
EXTRA="dev -d > crash.dev-d.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
