# Common second oracle pass of coroner's scenarios: sourced by oracle.d/<scenario>.sh, which sets
#   OBJS       symbols of the objects involved (module statics resolve after `mod -S`)
#   WAITLISTS  "kind:expr ..." waiter lists to walk; kind = rwsem | mutex | swait (completion: expr is
#              the completion) | waitq | rtmutex (expr is the rt_mutex_base) | none
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
  for o in ${OBJS:-}; do echo "sym $o >> crash.objects.txt"; done
  for o in ${OBJS:-}; do echo "whatis $o >> crash.objects.txt"; echo "p $o >> crash.objects.txt"; echo "rd -x $o 8 >> crash.objects.txt"; done
  i=0
  for wl in ${WAITLISTS:-}; do
    k=${wl%%:*}; e=${wl#*:}; i=$((i+1))
    case $k in
      rwsem|mutex) echo "p &$e.wait_list > crash.tmp.wl.$i" ;;
      swait)       echo "p &$e.wait.task_list > crash.tmp.wl.$i" ;;
      rtmutex)     echo "p &$e.waiters > crash.tmp.wl.$i" ;;
    esac
  done
  [ -n "${EXTRA:-}" ] && printf '%s\n' "$EXTRA"
} > "$c"
crash_run "$c" > crash.session2.txt
# pass 3: walk the waiter lists (each labelled via crash's shell escape "!")
: > crash.waiters.txt
: > "$c"; [ -d "$FIX/modules" ] && echo "mod -S $FIX/modules > /dev/null" >> "$c"
i=0
for wl in ${WAITLISTS:-}; do
  k=${wl%%:*}; e=${wl#*:}; i=$((i+1))
  a=$(grep -o '0x[0-9a-f]*' crash.tmp.wl.$i 2>/dev/null | head -1 || true)
  case $k in
    rwsem)   cmd="list -H $a -o rwsem_waiter.list -s rwsem_waiter.task,type" ;;
    mutex)   cmd="list -H $a -o mutex_waiter.list -s mutex_waiter.task" ;;
    swait)   cmd="list -H $a -o swait_queue.task_list -s swait_queue.task" ;;
    rtmutex) cmd="tree -t rbtree -o rt_mutex_waiter.tree_entry -s rt_mutex_waiter.task,prio,lock $a" ;;
    waitq)   cmd="waitq $e"; a=x ;;
    *) continue ;;
  esac
  [ -n "$a" ] || continue
  echo "!echo '== $k $e: $cmd' >> crash.waiters.txt" >> "$c"
  echo "$cmd >> crash.waiters.txt" >> "$c"
done
crash_run "$c" >> crash.session2.txt
rm -f "$c" crash.tmp.wl.*
