# Common second oracle pass of coroner's scenarios: sourced by oracle.d/<scenario>.sh, which sets
#   OBJS       "symbol:type ..." objects involved (type: a struct name, or - for a plain word);
#              printed with `sym`, `struct <type> <symbol>` and `rd -x`. (`p <module symbol>` is NOT used:
#              crash 8.0.6 + `mod -S` reads 6.12 module data symbols at a wrong address; `sym`/`struct`/`rd`
#              with the symbol use crash's own symbol table and are right.)
#   WAITLISTS  "kind:symbol ..." waiter lists to walk; kind = rwsem | mutex | swait (a completion) | waitq |
#              rtmutex-mutex (PREEMPT_RT struct mutex) | rtmutex-spin (PREEMPT_RT spinlock_t)
#   EXTRA      more crash commands (one per line, may redirect)
# Runs in $FIX (oracle.sh cds there); crash_run is inherited from oracle.sh.
c=$(mktemp); : > crash.objects.txt
{
  [ -d "$FIX/modules" ] && echo "mod -S $FIX/modules > /dev/null"
  echo "foreach bt > crash.foreach-bt.txt"
  echo "mod > crash.mod.txt"
  echo "help -r > crash.help-r.txt"
  echo "bt -a -f > crash.bt-a-f.txt"
  echo "ps -m > crash.ps-m.txt"
  for o in ${OBJS:-}; do echo "sym ${o%%:*} >> crash.objects.txt"; done
  for o in ${OBJS:-}; do
    s=${o%%:*}; t=${o#*:}
    echo "!echo '== $s ($t)' >> crash.objects.txt"
    [ "$t" != - ] && echo "struct $t $s >> crash.objects.txt"
    echo "rd -x $s 8 >> crash.objects.txt"
  done
  i=0
  for wl in ${WAITLISTS:-}; do
    k=${wl%%:*}; e=${wl#*:}; i=$((i+1))
    case $k in
      rwsem)         echo "struct rw_semaphore -o $e > crash.tmp.wl.$i" ;;
      mutex)         echo "struct mutex -o $e > crash.tmp.wl.$i" ;;
      swait)         echo "struct completion -o $e > crash.tmp.wl.$i"; echo "struct swait_queue_head -o > crash.tmp.wl2.$i" ;;
      rtmutex-mutex) echo "struct mutex -o $e > crash.tmp.wl.$i"; echo "struct rt_mutex_base -o > crash.tmp.wl2.$i" ;;
      rtmutex-spin)  echo "struct spinlock -o $e > crash.tmp.wl.$i"; echo "struct rt_mutex_base -o > crash.tmp.wl2.$i" ;;
      waitq)         echo "sym $e > crash.tmp.wl.$i" ;;
    esac
  done
  [ -n "${EXTRA:-}" ] && printf '%s\n' "$EXTRA"
} > "$c"
crash_run "$c" > crash.session2.txt
# member address: "[ffff...] type name;" in `struct T -o ADDR`; member offset: "[N] type name;" in `struct T -o`
maddr() { grep -E "[ *]$2;" "$1" 2>/dev/null | grep -o '\[[0-9a-fx]*\]' | head -1 | tr -d '[]'; }
moff()  { local v; v=$(maddr "$1" "$2"); case $v in 0x*) echo $((v));; '') echo "";; *) echo $((10#$v));; esac; }
# pass 3: walk the waiter lists (each labelled via crash's shell escape "!")
: > crash.waiters.txt
: > "$c"; [ -d "$FIX/modules" ] && echo "mod -S $FIX/modules > /dev/null" >> "$c"
i=0
for wl in ${WAITLISTS:-}; do
  k=${wl%%:*}; e=${wl#*:}; i=$((i+1)); a=''
  case $k in
    rwsem|mutex)   a=$(maddr crash.tmp.wl.$i wait_list) ;;
    swait)         b=$(maddr crash.tmp.wl.$i wait); o=$(moff crash.tmp.wl2.$i task_list)
                   [ -n "$b" ] && [ -n "$o" ] && a=$(printf '%x' $((0x$b + o))) ;;
    rtmutex-mutex) b=$(maddr crash.tmp.wl.$i rtmutex); o=$(moff crash.tmp.wl2.$i waiters)
                   [ -n "$b" ] && [ -n "$o" ] && a=$(printf '%x' $((0x$b + o))) ;;
    rtmutex-spin)  b=$(maddr crash.tmp.wl.$i lock); o=$(moff crash.tmp.wl2.$i waiters)
                   [ -n "$b" ] && [ -n "$o" ] && a=$(printf '%x' $((0x$b + o))) ;;
    waitq)         a=$(awk '{print $1; exit}' crash.tmp.wl.$i) ;;
  esac
  case $k in
    rwsem)   cmd="list -H $a -o rwsem_waiter.list -s rwsem_waiter.task,type" ;;
    mutex)   cmd="list -H $a -o mutex_waiter.list -s mutex_waiter.task" ;;
    swait)   cmd="list -H $a -o swait_queue.task_list -s swait_queue.task" ;;
    rtmutex-*) cmd="tree -t rbtree -o 0 -s rt_mutex_waiter.task,lock,tree $a" ;;  # rb_node at offset 0 (tree_entry, or tree.entry since the rt_waiter_node backport)
    waitq)   cmd="waitq $a" ;;
    *) continue ;;
  esac
  if [ -z "$a" ]; then echo "== $k $e: address not found" >> crash.waiters.txt; continue; fi
  echo "!echo '== $k $e (list head/root at $a): $cmd' >> crash.waiters.txt" >> "$c"
  echo "$cmd >> crash.waiters.txt" >> "$c"
done
[ -n "${WAITLISTS:-}" ] && crash_run "$c" >> crash.session2.txt
rm -f "$c" crash.tmp.wl.* crash.tmp.wl2.*
