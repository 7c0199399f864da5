OBJS="forge_blkhole:forge_blkhole_dev"
EXTRA="dev -d > crash.dev-d.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
