/** Functions of the kdump / panic / NMI machinery: a CPU note (or the top of a stack) taken there is not where the CPU was working. */
const PANIC_FUNCTIONS = [
  '__crash_kexec', 'crash_kexec', 'machine_kexec', 'crash_save_cpu', 'crash_setup_regs', 'panic', 'vpanic', 'nmi_panic',
  'crash_nmi_callback', 'native_machine_crash_shutdown', 'kdump_nmi_shootdown_cpus', 'nmi_shootdown_cpus', 'default_do_nmi',
  'exc_nmi', 'nmi_handle', 'unknown_nmi_error', '__die', 'oops_end',
];

export const PANIC_PATH = new RegExp(`^(${PANIC_FUNCTIONS.join('|')})$`);

/** The same, and the NMI entry itself: where a pasted `bt` of a CPU stopped by the kdump NMI may start. */
export const PANIC_OR_NMI_ENTRY = new RegExp(`^(${[...PANIC_FUNCTIONS, 'end_repeat_nmi', 'asm_exc_nmi', 'nmi'].join('|')})$`);
