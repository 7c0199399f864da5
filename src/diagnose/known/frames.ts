/**
 * Function-name tables the detectors match stacks against. Data, not logic: extend a table
 * (with a test sample in test/diagnose/frames.test.ts) to teach Coroner a new kernel's names.
 */

/** Where a CPU waits for other CPUs to run a cross-call (IPI): TLB shootdowns, on_each_cpu, CSD locks. */
export const IPI_WAIT_FUNCTIONS: RegExp[] = [
  /^smp_call_function_many_cond$/,
  /^smp_call_function_many$/,
  /^smp_call_function_single$/,
  /^smp_call_function$/,
  /^csd_lock_wait/,
  /^__csd_lock_wait$/,
  /^csd_lock$/,
  /^on_each_cpu(_cond)?(_mask)?$/,
  /^native_flush_tlb_(others|multi)$/,
  /^flush_tlb_(mm_range|others|kernel_range|all|page|multi)$/,
  /^kick_all_cpus_sync$/,
  /^smp_call_function_any$/,
  /^stop_machine/,
];

/** The innermost frames of a CPU spinning on a spinlock / rwlock. */
export const SPINLOCK_SLOWPATH_FUNCTIONS: RegExp[] = [
  /^native_queued_spin_lock_slowpath$/,
  /^__pv_queued_spin_lock_slowpath$/,
  /^queued_spin_lock_slowpath$/,
  /^pv_queued_spin_lock_slowpath$/,
  /^do_raw_spin_lock$/,
  /^__raw_spin_lock$/,
  /^queued_(read|write)_lock_slowpath$/,
  /^_raw_(read|write)_lock/,
  /^arch_spin_lock$/,
  /^virt_spin_lock$/,
  /^__ticket_spin_lock$/,
  /^_raw_spin_lock(_irqsave|_irq|_bh)?$/,
  /^_raw_spin_lock_nested$/,
  /^_spin_lock(_irqsave|_irq|_bh)?$/,
];

/** Spin loops on something other than a spinlock (seqcount readers, optimistic spinning, CSD waits). */
export const OTHER_SPIN_FUNCTIONS: RegExp[] = [
  /^read_seqbegin$/,
  /^read_seqcount_begin$/,
  /^__read_seqcount_begin$/,
  /^osq_lock$/,
  /^mutex_spin_on_owner$/,
  /^rwsem_spin_on_owner$/,
  /^rwsem_optimistic_spin$/,
];

/** The oops / die path: frames between the exception entry and whatever the oops code called. */
export const OOPS_PATH_FUNCTIONS: RegExp[] = [
  /^page_fault_oops$/,
  /^no_context$/,
  /^__bad_area_nosemaphore$/,
  /^bad_area(_nosemaphore)?$/,
  /^kernelmode_fixup_or_oops$/,
  /^do_kern_addr_fault$/,
  /^do_user_addr_fault$/,
  /^__die(_body)?$/,
  /^die$/,
  /^die_addr$/,
  /^oops_begin$/,
  /^oops_end$/,
  /^notify_die$/,
  /^do_trap$/,
  /^do_error_trap$/,
  /^exc_(general_protection|page_fault|invalid_op|int3|double_fault|divide_error)$/,
  /^asm_exc_/,
  /^handle_bug$/,
  /^report_bug$/,
  /^die_kernel_fault$/,
  /^__do_kernel_fault$/,
  /^do_page_fault$/,
  /^do_mem_abort$/,
  /^el1_abort$/,
  /^el1h_64_sync(_handler)?$/,
  /^crash_kexec$/,
  /^__crash_kexec$/,
  /^panic$/,
];

/** Frames of the kdump / NMI machinery that sit on top of the interrupted context. */
export const NMI_MACHINERY_FUNCTIONS: RegExp[] = [
  /^crash_nmi_callback$/,
  /^nmi_handle$/,
  /^default_do_nmi$/,
  /^exc_nmi$/,
  /^do_nmi$/,
  /^end_repeat_nmi$/,
  /^asm_exc_nmi$/,
  /^nmi_cpu_backtrace(_handler)?$/,
  /^nmi_trigger_cpumask_backtrace$/,
  /^arch_trigger_cpumask_backtrace$/,
  /^machine_kexec$/,
  /^__crash_kexec$/,
  /^crash_kexec$/,
  /^panic$/,
  /^unknown_nmi_error$/,
];

/** Generic sleeping frames: a hung task's wait site is the first frame below these. */
export const SLEEP_FUNCTIONS: RegExp[] = [
  /^(__)?schedule$/,
  /^schedule_(timeout|preempt_disabled|idle|hrtimeout_range|hrtimeout_range_clock)$/,
  /^io_schedule(_timeout)?$/,
  /^preempt_schedule/,
  /^__switch_to(_asm)?$/,
  /^context_switch$/,
  /^rwsem_down_(read|write)_slowpath$/,
  /^rwsem_down_(read|write)_failed$/,
  /^call_rwsem_down_(read|write)_failed$/,
  /^down_(read|write)(_killable|_interruptible|_nested)?$/,
  /^down(_interruptible|_killable|_timeout)?$/,
  /^__down(_common|_interruptible|_killable|_timeout)?$/,
  /^__mutex_lock(_common|_slowpath|_killable_slowpath|_interruptible_slowpath)?(\.constprop\.\d+|\.isra\.\d+)?$/,
  /^mutex_lock(_nested|_killable|_interruptible|_io)?$/,
  /^__mutex_lock_slowpath$/,
  /^wait_for_completion(_io|_killable|_interruptible|_timeout|_io_timeout|_killable_timeout|_state)?$/,
  /^__wait_for_common$/,
  /^wait_for_common(_io)?$/,
  /^do_wait_for_common$/,
  /^__wait_on_bit(_lock)?$/,
  /^out_of_line_wait_on_bit(_lock)?$/,
  /^bit_wait(_io)?$/,
  /^wait_on_page_bit(_common)?$/,
  /^folio_wait_bit(_common)?$/,
  /^folio_wait_writeback$/,
  /^__folio_lock$/,
  /^__lock_page$/,
  /^rt_mutex_slowlock/,
  /^__rt_mutex_slowlock/,
  /^rtlock_slowlock/,
  /^schedule_rtlock$/,
  /^rt_spin_lock$/,
  /^rwbase_(read|write)_lock$/,
  /^__rwbase_read_lock$/,
  /^percpu_rwsem_wait$/,
  /^__percpu_down_read$/,
  /^percpu_down_write$/,
  /^synchronize_rcu/,
  /^__synchronize_srcu$/,
  /^__wait_rcu_gp$/,
  /^flush_work$/,
  /^__flush_work(\.isra\.\d+)?$/,
  /^freezer_/,
  /^do_nanosleep$/,
  /^hrtimer_nanosleep$/,
  /^futex_wait/,
  /^ep_poll$/,
  /^do_sys_poll$/,
  /^pipe_read$/,
  /^msleep$/,
  /^usleep_range/,
];

/** Locking slow paths a hung task can be blocked in, and the lock type they mean. */
export const BLOCKING_LOCK_FUNCTIONS: Array<{ re: RegExp; lock: 'mutex' | 'rwsem-read' | 'rwsem-write' | 'semaphore' | 'rt-mutex' | 'percpu-rwsem' }> = [
  { re: /^rwsem_down_read_slowpath$|^rwsem_down_read_failed$|^call_rwsem_down_read_failed$|^down_read/, lock: 'rwsem-read' },
  { re: /^rwsem_down_write_slowpath$|^rwsem_down_write_failed$|^call_rwsem_down_write_failed$|^down_write/, lock: 'rwsem-write' },
  { re: /^__mutex_lock|^mutex_lock/, lock: 'mutex' },
  { re: /^__down(_common|_interruptible|_killable|_timeout)?$|^down(_interruptible|_killable|_timeout)?$/, lock: 'semaphore' },
  { re: /^rt_mutex_slowlock|^rt_mutex_lock/, lock: 'rt-mutex' },
  { re: /^percpu_rwsem_wait$|^__percpu_down_read$|^percpu_down_write$/, lock: 'percpu-rwsem' },
];

/** Idle-loop frames: a CPU whose innermost kernel frame is here is idle, not stuck. */
export const IDLE_FUNCTIONS: RegExp[] = [
  /^native_safe_halt$/,
  /^default_idle(_call)?$/,
  /^arch_cpu_idle$/,
  /^cpu_idle_poll/,
  /^amd_e400_idle$/,
  /^mwait_idle/,
  /^intel_idle/,
  /^acpi_idle_/,
  /^cpuidle_enter/,
  /^do_idle$/,
  /^cpu_startup_entry$/,
  /^pv_native_safe_halt$/,
  /^safe_halt$/,
  /^poll_idle$/,
  /^cpu_do_idle$/,
];

/**
 * Uninterruptible waits that are normal however long they last (not a hang by themselves), as frame
 * sequences innermost first (each a pattern on one frame; frames in between are allowed).
 */
export const BENIGN_WAITS: RegExp[][] = [
  // A vfork parent waits for its child to exec or exit (wait_for_vfork_done, often inlined in kernel_clone).
  [/^wait_for_vfork_done$/],
  [/^wait_for_completion/, /^kernel_clone$|^_do_fork$|^do_fork$/, /vfork$/],
];

/** true when the stack (innermost first) contains one of the benign wait sequences. */
export function isBenignWait(stack: readonly { function: string }[]): boolean {
  return BENIGN_WAITS.some((seq) => {
    let i = 0;
    for (const f of stack) if (i < seq.length && seq[i].test(f.function)) i++;
    return i === seq.length;
  });
}

/** Where panic / reboot / kexec park the other CPUs: halted on purpose, not stuck. */
export const STOPPED_FUNCTIONS: RegExp[] = [
  /^stop_this_cpu$/,
  /^smp_stop_nmi_callback$/,
  /^panic_smp_self_stop$/,
  /^nmi_panic_self_stop$/,
  /^crash_smp_send_stop$/,
  /^native_stop_other_cpus$/,
  /^ipi_cpu_stop$/,
  /^local_cpu_stop$/,
  /^cpu_park_loop$/,
];

/** A function name without compiler suffixes (`.constprop.0`, `.isra.3`, `.part.1`, `.cold`, `.llvm.N`). */
export function normaliseFunction(name: string): string {
  return name.replace(/\.(constprop|isra|part|cold|llvm|lto_priv)(\.\d+)*/g, '').replace(/\.\d+$/, '');
}

export function matchesAny(name: string | undefined, table: RegExp[]): boolean {
  if (!name) return false;
  const base = normaliseFunction(name);
  return table.some((re) => re.test(name) || re.test(base));
}

/** A CPU parked on purpose by panic/kexec: its PC, or one of its first three frames, is a stop routine. */
export function isParked(pc: string | undefined, frames: readonly string[]): boolean {
  return matchesAny(pc, STOPPED_FUNCTIONS) || frames.slice(0, 3).some((n) => matchesAny(n, STOPPED_FUNCTIONS));
}
