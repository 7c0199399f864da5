/**
 * The parser on ../shared/corpus (real oopses from many kernels and archs, collected by abrt/satyr). What each file
 * should give was decided by reading it: kinds in order, the release when printed, the culprit of the first event
 * with a stack (RIP/PC function, or the first non-generic frame), and the frame count of that stack. Files that are
 * excerpts without a backtrace (gitlog-05, -06 ...) must still give their event with no frames; `not_oops*`,
 * `no_oops` give nothing but what is there (userspace WARNINGs never count). Every file also: fast path == full path.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseLogFile, parseLogText, scanLogFile } from '../../../src/sources/log/index.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const corpus = path.resolve(repoRoot, '../shared/corpus');

// [file, kinds, release, culprit of the first event with frames, number of its frames]
const TABLE: Array<[string, string, string | undefined, string | undefined, number]> = [
  ['satyr-kerneloopses/arm-hung-task-oops', 'panic', '4.2.8-yocto-standard-1968fcd27440e21d39a0b9e14a3be2ad', undefined, 7],
  ['satyr-kerneloopses/arm-hung-task-oops-2', 'null-deref', '3.17.8-300.fc21.armv7hl', 'shmem_getpage_gfp', 9],
  ['satyr-kerneloopses/github-102', 'warning', '3.10.4-100.fc18.x86_64', 'putback_inactive_pages', 17],
  ['satyr-kerneloopses/github-113', 'warning', '3.10.12-100.fc18.x86_64', 'intel_irq_remapping_supported', 16],
  ['satyr-kerneloopses/github-73', 'warning', '3.10.11-100.fc18.x86_64', 'tcp_fastretrans_alert', 33],
  ['satyr-kerneloopses/github-73-modified', 'warning', '3.10.11-100.fc18.x86_64', 'tcp_fastretrans_alert', 32],
  ['satyr-kerneloopses/gitlog-01', 'lockdep bug', undefined, 'mxs_mmc_enable_sdio_irq', 9],
  ['satyr-kerneloopses/gitlog-02', 'lockdep bug', undefined, 'mxs_mmc_enable_sdio_irq', 15],
  ['satyr-kerneloopses/gitlog-03', 'lockdep', '3.6.0-rc3-wl-main', 'update_or_create_fnhe', 19],
  ['satyr-kerneloopses/gitlog-04', 'lockdep', '3.6.0-rc1+', 'call_netdevice_notifiers', 7],
  ['satyr-kerneloopses/gitlog-05', 'lockdep', undefined, 'ath5k_tasklet_beacon', 0],
  ['satyr-kerneloopses/gitlog-06', 'lockdep', undefined, undefined, 0],
  ['satyr-kerneloopses/gitlog-07', 'bug', undefined, 'do_one_initcall', 5],
  ['satyr-kerneloopses/gitlog-08', 'lockdep', undefined, 'sysfs_addrm_finish', 14],
  ['satyr-kerneloopses/gitlog-09', 'lockdep', undefined, 'cpuacct_charge', 12],
  ['satyr-kerneloopses/gitlog-10', 'lockdep', undefined, undefined, 0],
  ['satyr-kerneloopses/gitlog-11', 'lockdep', '3.5.0-rc1+', 'led_trigger_unregister', 12],
  ['satyr-kerneloopses/gitlog-12', 'lockdep', undefined, 'regulator_get_voltage', 7],
  ['satyr-kerneloopses/gitlog-13', 'lockdep', '3.4.1-build-0061', 'l2tp_xmit_skb', 38],
  ['satyr-kerneloopses/gitlog-14', 'lockdep', undefined, undefined, 0],
  ['satyr-kerneloopses/gitlog-15', 'lockdep', undefined, 'restore_regulatory_settings', 13],
  ['satyr-kerneloopses/gitlog-16', 'lockdep', undefined, undefined, 0],
  ['satyr-kerneloopses/gitlog-17', 'lockdep', '3.4.0-wl+', 'rt2x00queue_create_tx_descriptor', 33],
  ['satyr-kerneloopses/gitlog-18', 'lockdep', '3.1.0-kml', 'sta_rx_agg_session_timer_expired', 33],
  ['satyr-kerneloopses/gitlog-19', 'bug', undefined, undefined, 0],
  ['satyr-kerneloopses/gitlog-20', 'lockdep', undefined, undefined, 0],
  ['satyr-kerneloopses/gitlog-21', 'lockdep', '3.4.0-rc5+', 'idr_read_uobj', 21],
  ['satyr-kerneloopses/gitlog-22', 'lockdep', undefined, 'jffs2_garbage_collect_pass', 11],
  ['satyr-kerneloopses/gitlog-23', 'lockdep', undefined, 'l2tp_ip_sendmsg', 0],
  ['satyr-kerneloopses/gitlog-24', 'lockdep', '3.3.4-build-0061', '__percpu_counter_sum', 30],
  ['satyr-kerneloopses/gitlog-25', 'lockdep', '3.4.0-rc1+', 'filldir', 18],
  ['satyr-kerneloopses/gitlog-26', 'lockdep', undefined, undefined, 0],
  ['satyr-kerneloopses/gitlog-27', 'lockdep', '3.3.0-rc2-next-20120201', 'pcpu_alloc', 32],
  ['satyr-kerneloopses/gitlog-28', 'lockdep', '3.2.0-0.0.0.28.36b5ec9-default', 'drain_mcelog_buffer', 23],
  ['satyr-kerneloopses/gitlog-29', 'bug', '3.2.0-isci+', 'kmem_cache_destroy', 10],
  ['satyr-kerneloopses/gitlog-30', 'bug', undefined, 'do_one_initcall', 3],
  ['satyr-kerneloopses/gitlog-31', 'lockdep', undefined, 'gpio_value_store', 14],
  ['satyr-kerneloopses/rhbz-1040900-ppc64-1', 'warning', '3.10.0-33.el7.ppc64', 'eeh_dev_check_failure', 21],
  ['satyr-kerneloopses/rhbz-1040900-s390x-1', 'warning', '3.10.0-54.0.1.el7.s390x', 'will_oops_init', 7],
  ['satyr-kerneloopses/rhbz-1040900-s390x-2', 'bug', '3.69.69-69.0.fit.s390x', 'scsi_alloc_sgtable', 18],
  ['satyr-kerneloopses/rhbz-1140681', 'gpf', '3.15.10-201.fc20.x86_64', 'find_get_entry', 21],
  ['satyr-kerneloopses/rhbz-1235021', 'soft-lockup', '4.0.5-300.fc22.x86_64+debug', 'smp_call_function_many', 29],
  ['satyr-kerneloopses/rhbz-1518943', 'null-deref', undefined, 'amdgpu_vm_sdma_commit', 18],
  ['satyr-kerneloopses/rhbz-827868', 'warning', '3.3.7-1.fc16.x86_64', 'pskb_expand_head', 32],
  ['satyr-kerneloopses/rhbz-827868-modified', 'warning', '3.3.7-1.fc16.x86_64', 'pskb_expand_head', 32],
  ['satyr-kerneloopses/rhbz-836206', 'bug bug', '3.3.0-0.15.el7.x86_64', 'put_cmsg', 15],
  ['satyr-kerneloopses/rhbz-865695-0', 'bug', '3.6.1-1.fc17.i686.PAE', 'wdev_priv.part.8', 25],
  ['satyr-kerneloopses/rhbz-865695-2', 'bug', '3.6.1-1.fc17.x86_64', 'wdev_priv.part.8', 20],
  ['satyr-kerneloopses/rhbz-865695-2-notime', 'bug', '3.6.1-1.fc17.x86_64', 'wdev_priv.part.8', 20],
  ['abrt-examples/10_oopses.test', 'warning warning warning warning warning warning warning warning warning warning', undefined, 'radeon_gart_unbind', 40],
  ['abrt-examples/1_oops.test', 'warning', undefined, 'radeon_gart_unbind', 40],
  ['abrt-examples/cut_here.test', 'warning', '2.6.32-19.el6.x86_64', 'generic_get_mtrr', 32],
  ['abrt-examples/debug_messages.test', 'null-deref', undefined, 'acpi_ns_internalize_name', 1],
  ['abrt-examples/kernel_panic_oom.test', 'panic', '3.10.0-327.28.2.el7.x86_64', 'out_of_memory', 13],
  ['abrt-examples/koops-tainted-bg1', 'bug', '2.6.38.6-27.fc15.i686', '__remove_from_page_cache', 14],
  ['abrt-examples/koops-tainted-g.template', 'warning', '3.1.0-0.rc9.git0.0.fc16.x86_64', 'xen_make_pte', 42],
  ['abrt-examples/koops-tainted-insane.template', 'warning', '3.1.0-0.rc9.git0.0.fc16.x86_64', 'xen_make_pte', 1],
  ['abrt-examples/koops-tainted-spaces', 'warning', '3.1.0-0.rc9.git0.0.fc16.x86_64', 'xen_make_pte', 1],
  ['abrt-examples/mce1.test', 'mce panic', undefined, undefined, 0],
  ['abrt-examples/mce2.test', 'mce', '3.10.0-49.el7.x86_64', undefined, 0],
  ['abrt-examples/nmi_oops.test.template', 'hard-lockup', '3.8.9-200.fc18.x86_64', 'account_idle_ticks', 25],
  ['abrt-examples/nmi_oops_hash.test', 'hard-lockup', '3.8.9-200.fc18.x86_64', 'account_idle_ticks', 25],
  ['abrt-examples/no_oops.test', '', undefined, undefined, 0],
  ['abrt-examples/not_oops1.test', '', undefined, undefined, 0],
  ['abrt-examples/not_oops2.test.template', 'null-deref', '2.6.27.9-159.fc10.i686', 'radeon_cp_init_ring_buffer', 9],
  ['abrt-examples/not_oops_foreign_hostname.test', 'mce', undefined, undefined, 0],
  ['abrt-examples/oops-32bit-graphics.test', 'null-deref warning', '4.0.3-201.fc21.i686+PAE', 'radeon_audio_detect', 25],
  ['abrt-examples/oops-kernel-3.x.x', 'warning', '3.0.0-3.fc16.i686.PAE', 'check_unmap', 36],
  ['abrt-examples/oops-kernel-panic-hung-tasks-arm.test', 'panic', '4.2.8-yocto-standard-1968fcd27440e21d39a0b9e14a3be2ad', undefined, 7],
  ['abrt-examples/oops-module-ati.test', 'bug', '4.0.6-300.fc22.x86_64', 'radeon_invalid_rreg', 24],
  ['abrt-examples/oops-module-intel.test', 'warning', '3.17.8-300.fc21.x86_64', 'intel_display_power_put', 14],
  ['abrt-examples/oops-module-nouveau.test', 'warning', '3.19.5-200.fc21.x86_64', '__ioremap_caller', 26],
  ['abrt-examples/oops-module-qxl.test', 'warning', '3.17.8-300.fc21.x86_64', 'qxl_sync_obj_wait', 25],
  ['abrt-examples/oops-non-fatal-mce.test.template', 'mce', undefined, undefined, 0],
  ['abrt-examples/oops-with-jiffies.test', 'warning', '3.2.5-3.fc16.x86_64', 'rate_control_send_low', 17],
  ['abrt-examples/oops-without-addrs.test', 'panic', '5.4.0-0.rc6.git0.1.fc32.x86_64', 'sysrq_handle_crash', 11],
  ['abrt-examples/oops1-module-nouveau.test', 'soft-lockup', '3.15.10-201.fc20.i686+PAE', 'ioread32', 36],
  ['abrt-examples/oops1.test.template', 'null-deref', '2.6.27.9-159.fc10.i686', 'radeon_cp_init_ring_buffer', 9],
  ['abrt-examples/oops10_s390x.test', 'bug', '3.69.69-69.0.fit.s390x', 'scsi_alloc_sgtable', 18],
  ['abrt-examples/oops2.test', 'lockdep', '2.6.33.1-19.fc13.x86_64', 'sysfs_deactivate', 27],
  ['abrt-examples/oops3.test.template', 'gpf gpf gpf', '2.6.32-0.51.rc7.git2.fc13.x86_64', 'radeon_read_ring_rptr', 27],
  ['abrt-examples/oops5.test', 'warning', '3.0.0-1.fc16.i686', '__ioremap_caller', 16],
  ['abrt-examples/oops6.test', 'warning', '4.9.3-200.fc25.x86_64', 'elf_core_dump', 23],
  ['abrt-examples/oops7.test.template', '', undefined, undefined, 0],
];

for (const [file, kinds, release, culprit, frames] of TABLE) {
  const p = path.join(corpus, file);
  test(`corpus ${file}`, { skip: existsSync(p) ? false : 'no ../shared/corpus beside the checkout' }, async () => {
    const r = parseLogText(readFileSync(p), file);
    assert.equal(r.events.map((e) => e.kind).join(' '), kinds);
    assert.equal(r.system.release ?? r.events.find((e) => e.release)?.release, release);
    const main = r.events.find((e) => e.trace.length) ?? r.events[0];
    assert.equal(main?.culprit?.function, culprit);
    assert.equal(main?.trace.length ?? 0, frames);
    for (const e of r.events) assert.ok(e.line >= 1 && e.endLine >= e.line && e.endLine <= r.lines);
    const full = await parseLogFile(p, file);
    const fast = await scanLogFile(p, file);
    assert.deepEqual(full.events, r.events);
    assert.deepEqual(fast.events, full.events);
    assert.equal(fast.lines, full.lines);
  });
}

test('corpus: arch-specific register blocks are read', { skip: existsSync(corpus) ? false : 'no corpus' }, () => {
  const read = (f: string) => parseLogText(readFileSync(path.join(corpus, f)), f);
  const ppc = read('satyr-kerneloopses/rhbz-1040900-ppc64-1').events[0];
  assert.equal(ppc.registers[0].arch, 'ppc64');
  assert.equal(ppc.registers[0].pcSymbol?.function, 'eeh_dev_check_failure');
  assert.equal(ppc.trace[1].reliable, false, '(unreliable) marker');
  const s390 = read('satyr-kerneloopses/rhbz-1040900-s390x-1').events[0];
  assert.equal(s390.registers[0].arch, 's390x');
  assert.equal(s390.registers[0].mode, 'kernel');
  assert.equal(s390.culprit?.module, 'will_oops');
  const x86 = read('abrt-examples/oops1.test.template').events[0];
  assert.equal(x86.registers[0].arch, 'x86');
  assert.equal(x86.culprit?.module, 'radeon');
  const arm = read('satyr-kerneloopses/arm-hung-task-oops-2').events[0];
  assert.equal(arm.registers[0].arch, 'arm');
  assert.ok(arm.trace.every((f) => f.function && !f.function.includes(' ')));
  const gpf = read('abrt-examples/oops3.test.template').events[0];
  assert.equal(gpf.registers[0].values.rip, 'ffffffffa006c13c');
  assert.equal(gpf.details.oopsNumber, 1);
});

test('corpus: syslog lines of other programs are not kernel reports', { skip: existsSync(corpus) ? false : 'no corpus' }, () => {
  const r = parseLogText(readFileSync(path.join(corpus, 'abrt-examples/not_oops1.test')), 'x');
  assert.equal(r.events.length, 0);
  assert.equal(r.format, 'journalctl short');
});
