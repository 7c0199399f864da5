# coroner forge scenario table: sourced by forge.sh / forge-kdump.sh from the `*)` branch of their
# scenario `case` (patched in by forge/patch-forge.sh). forge.sh reads WAIT_RE/WAIT_N/EXTRA_SLEEP/
# TIMEOUT/NEEDS_DISK/CMDLINE_EXTRA; forge-kdump.sh reads KNOBS (panic knobs)/NEEDS_DISK.
case "$S" in
  holder-sleeps-rwsem) WAIT_RE='blocked for more than'; WAIT_N=5; EXTRA_SLEEP=5; KNOBS="hung_task_panic=1" ;;
  holder-sleeps-mutex) WAIT_RE='blocked for more than'; WAIT_N=5; EXTRA_SLEEP=5; KNOBS="hung_task_panic=1" ;;
  abba-spinlock|abba-rwlock) WAIT_RE='detected stalls on CPUs'; WAIT_N=1; EXTRA_SLEEP=8; TIMEOUT=300
                       KNOBS="${NMI_KNOB:-unknown_nmi_panic}"; NMI_AFTER_RE='detected stalls on CPUs' ;;
  lock-vs-ipi|lock-vs-ipi-many) WAIT_RE='soft lockup - CPU#'; WAIT_N=2; EXTRA_SLEEP=3; TIMEOUT=300; KNOBS="softlockup_panic=1" ;;
  preempt-hog|preempt-hog-syscall) WAIT_RE='soft lockup - CPU#'; WAIT_N=2; EXTRA_SLEEP=3; TIMEOUT=300; KNOBS="softlockup_panic=1" ;;
  blk-stuck)           WAIT_RE='blocked for more than'; WAIT_N=1; EXTRA_SLEEP=10; KNOBS="hung_task_panic=1" ;;
  blk-stuck-fs)        NEEDS_DISK=1; WAIT_RE='blocked for more than'; WAIT_N=3; EXTRA_SLEEP=8; KNOBS="hung_task_panic=1" ;;
  workqueue-hog)       WAIT_RE='soft lockup - CPU#'; WAIT_N=2; EXTRA_SLEEP=3; TIMEOUT=300; KNOBS="softlockup_panic=1" ;;
  workqueue-blocked)   WAIT_RE='blocked for more than'; WAIT_N=3; EXTRA_SLEEP=5; KNOBS="hung_task_panic=1" ;;
  rt-mutex-abba)       WAIT_RE='blocked for more than'; WAIT_N=3; EXTRA_SLEEP=5; KNOBS="hung_task_panic=1" ;;
  rt-spinlock-abba)    WAIT_RE='FORGE: rt-spinlock-abba-ready'; WAIT_N=1; EXTRA_SLEEP=5; TIMEOUT=300
                       KNOBS="${NMI_KNOB:-unknown_nmi_panic}"; NMI_AFTER_RE='FORGE: rt-spinlock-abba-ready' ;;
  scale-20k)           WAIT_RE='FORGE: scale-ready'; WAIT_N=1; EXTRA_SLEEP=15; TIMEOUT=${TIMEOUT_SCALE:-1500}
                       NCPU=${NCPU_SCALE:-64}; MEM=${MEM_SCALE:-2G}; KNOBS="hung_task_panic=1" ;;
  *) echo "unknown scenario $S"; exit 2 ;;
esac
export NCPU MEM
