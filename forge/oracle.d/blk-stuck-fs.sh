OBJS="forge_vdisk_lost:list_head forge_vdisk_nr_lost:- forge_vdisk_nr_done:- forge_vdisk_nr_timeouts:- forge_vdisk_disk:- forge_vdisk_tags:blk_mq_tag_set"
EXTRA="dev -d > crash.dev-d.txt
mount > crash.mount.txt"
. "$(dirname "${BASH_SOURCE[0]}")/_coroner.sh"
