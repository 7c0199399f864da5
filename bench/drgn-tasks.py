"""The drgn peer of bench/drgn-elf.ts: every task (pid, ppid, cpu, state, comm) and every task's stack trace.

   python3 bench/drgn-tasks.py VMCORE VMLINUX [MODULE_DEBUG_DIR]
"""
import sys

import drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_cpu, task_state_to_char

prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]], default=False, main=True)
tasks = frames = failed = 0
out = []
for t in for_each_task(prog):
    tasks += 1
    pid = t.pid.value_()
    line = f"{pid} {t.real_parent.pid.value_()} {task_cpu(t)} {task_state_to_char(t)} {t.comm.string_().decode(errors='replace')}"
    try:
        trace = prog.stack_trace(t)
        frames += len(trace)
        out.append(line + "\n" + str(trace))
    except Exception as e:  # noqa: BLE001 - a task drgn cannot unwind is counted, not fatal
        failed += 1
        out.append(f"{line}\n  (no stack: {e})")
sys.stdout.write("\n".join(out) + "\n")
print(f"# tasks {tasks} frames {frames} failed {failed}", file=sys.stderr)
