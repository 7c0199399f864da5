/** Report types (guilty.ts): every row's sample header parses to an event of that type; titles and guilty frames on symbolized traces. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLogText } from '../../../src/sources/log/index.ts';
import { REPORT_TYPES, reportTypeOf } from '../../../src/sources/log/guilty.ts';

const first = (text: string) => parseLogText(text, 't.log').events.find((e) => e.details.report);

test('report types: every row types its own sample header', () => {
  for (const row of REPORT_TYPES) {
    const e = first(`${row.sample}\n`);
    assert.ok(e, `${row.id}: no report from ${row.sample}`);
    assert.equal(reportTypeOf(e)?.id, row.id, row.sample);
  }
});

test('symbolized KASAN report: the access site below list helpers, named after the frame that holds the inlined code', () => {
  const e = first(
    [
      'BUG: KASAN: slab-use-after-free in __list_del_entry_valid_or_report+0x1c/0x130 lib/list_debug.c:49',
      'Read of size 8 at addr ffff88807a1b2c08 by task syz-executor.3/5432',
      '',
      'CPU: 1 PID: 5432 Comm: syz-executor.3 Not tainted 6.7.0-rc1 #0',
      'Call Trace:',
      ' <TASK>',
      ' __dump_stack lib/dump_stack.c:88 [inline]',
      ' dump_stack_lvl+0xd9/0x1b0 lib/dump_stack.c:106',
      ' print_report+0xc4/0x620 mm/kasan/report.c:475',
      ' kasan_report+0xda/0x110 mm/kasan/report.c:588',
      ' __list_del_entry_valid_or_report+0x1c/0x130 lib/list_debug.c:49',
      ' __list_del_entry include/linux/list.h:215 [inline]',
      ' list_del_init include/linux/list.h:287 [inline]',
      ' gadget_unbind drivers/usb/gadget/udc/core.c:321 [inline]',
      ' udc_release+0x55/0x200 drivers/usb/gadget/udc/core.c:400',
      ' __fput+0x270/0xbb0 fs/file_table.c:394',
      ' </TASK>',
      '',
      'Allocated by task 5430:',
      ' kasan_save_stack+0x33/0x50 mm/kasan/common.c:45',
      ' kmalloc include/linux/slab.h:600 [inline]',
      ' udc_open+0x8e/0x300 drivers/usb/gadget/udc/core.c:200',
    ].join('\n'),
  )!;
  assert.equal(e.culprit?.function, 'udc_release');
  assert.equal(e.details.report?.title, 'KASAN: slab-use-after-free Read in udc_release');
  assert.ok(e.trace.some((f) => f.inline && f.function === 'gadget_unbind' && f.source === 'drivers/usb/gadget/udc/core.c:321'));
});

test('a WARNING expanded over inline header lines is one report, blamed past the refcount helper and its wrappers', () => {
  const e = parseLogText(
    [
      '------------[ cut here ]------------',
      'refcount_t: underflow; use-after-free.',
      'WARNING: CPU: 0 PID: 3605 at lib/refcount.c:28 refcount_warn_saturate+0x144/0x1b0 lib/refcount.c:28',
      'Modules linked in:',
      'RIP: 0010:refcount_warn_saturate+0x144/0x1b0 lib/refcount.c:28',
      'Call Trace:',
      ' <TASK>',
      ' __refcount_sub_and_test include/linux/refcount.h:283 [inline]',
      ' __refcount_dec_and_test include/linux/refcount.h:315 [inline]',
      ' refcount_dec_and_test include/linux/refcount.h:333 [inline]',
      ' sock_put include/net/sock.h:1979 [inline]',
      ' sock_put+0x10/0x20 include/net/sock.h:1977',
      ' rfcomm_sock_kill+0x19d/0x240 net/bluetooth/rfcomm/sock.c:200',
      ' rfcomm_sock_release+0x60/0x80 net/bluetooth/rfcomm/sock.c:920',
      ' </TASK>',
    ].join('\n'),
    't.log',
  ).events.filter((x) => x.details.report);
  assert.equal(e.length, 1);
  assert.equal(e[0].details.report?.title, 'WARNING: refcount bug in rfcomm_sock_kill');
});

test('KCSAN names both racing functions; kmemleak blames the allocation site below the allocator', () => {
  const k = first(['BUG: KCSAN: data-race in ext4_mark_iloc_dirty / ext4_do_update_inode', '', 'write to 0xffff8881 of 4 bytes by task 1 on cpu 0:', ' ext4_mark_iloc_dirty+0x1/0x2 fs/ext4/inode.c:1', '', 'read to 0xffff8881 of 4 bytes by task 2 on cpu 1:', ' ext4_do_update_inode+0x1/0x2 fs/ext4/inode.c:2'].join('\n'))!;
  assert.equal(k.details.report?.title, 'KCSAN: data-race in ext4_mark_iloc_dirty / ext4_do_update_inode');
  assert.equal(k.culprit?.function, 'ext4_mark_iloc_dirty');
  const m = first(
    [
      'BUG: memory leak',
      'unreferenced object 0xffff888109e3fc00 (size 1024):',
      '  comm "syz-executor.0", pid 8432, jiffies 4294945015 (age 13.590s)',
      '  hex dump (first 32 bytes):',
      '    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................',
      '  backtrace:',
      '    [<ffffffff8152a4c6>] kmemleak_alloc_recursive include/linux/kmemleak.h:42 [inline]',
      '    [<ffffffff8152a4c6>] slab_post_alloc_hook mm/slab.h:766 [inline]',
      '    [<ffffffff8152a4c6>] __kmalloc+0x1e6/0x3a0 mm/slub.c:4433',
      '    [<ffffffff83e1b1a3>] kzalloc include/linux/slab.h:720 [inline]',
      '    [<ffffffff83e1b1a3>] hci_conn_add+0x53/0x7e0 net/bluetooth/hci_conn.c:528',
      '    [<ffffffff83e2c1a0>] hci_connect_acl+0x90/0x1f0 net/bluetooth/hci_conn.c:1301',
    ].join('\n'),
  )!;
  assert.equal(m.details.report?.title, 'memory leak in hci_conn_add');
});

test('two CPUs printing at once: PRINTK_CALLER ids untangle the reports, each blamed on its own frames', () => {
  const a = (s: string) => `[  100.000001][    T7] ${s}`;
  const b = (s: string) => `[  100.000002][  T812] ${s}`;
  const log = parseLogText(
    [
      a('------------[ cut here ]------------'),
      a('WARNING: CPU: 0 PID: 7 at net/core/skbuff.c:123 skb_panic_helper+0x10/0x20'),
      b('BUG: KASAN: slab-use-after-free in ext4_search_dir+0x2b5/0x300'),
      a('CPU: 0 PID: 7 Comm: kworker/0:1 Not tainted 6.6.0 #1'),
      b('Read of size 1 at addr ffff888012345678 by task cat/812'),
      a('Call Trace:'),
      b('CPU: 1 PID: 812 Comm: cat Not tainted 6.6.0 #1'),
      a(' <TASK>'),
      b('Call Trace:'),
      a(' tun_build_skb+0x100/0x300'),
      b(' <TASK>'),
      a(' tun_get_user+0x200/0x900'),
      b(' ext4_search_dir+0x2b5/0x300'),
      a(' </TASK>'),
      b(' ext4_find_entry+0x1/0x2'),
      b(' </TASK>'),
    ].join('\n'),
    't.log',
  ).events.filter((e) => e.details.report);
  assert.deepEqual(
    log.map((e) => e.details.report?.title),
    ['WARNING in skb_panic_helper', 'KASAN: slab-use-after-free Read in ext4_search_dir'],
  );
  assert.ok(log.every((e) => !e.details.report?.corrupted));
});

test('console output run together inside a report marks it corrupted', () => {
  const e = first(
    [
      '[12125.229431] INFO: task kworker/2:1:3331 blocked for more than 120 seconds.',
      '[12125.269795] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disabfd5bb59b0 0000000000000086 ffff881fbf770000',
      '[12129.329892]  ffff881fd5bb5fd8 ffff8Trace:',
      '[12134.346772]  [<ffffffff81234567>] schedule+0x29/0x70',
      '[12136.549333]  [<ffffffff81234568>] xfs_log_commit_cil+0x1a6/0x4a0 [xfs]',
    ].join('\n'),
  )!;
  assert.match(e.details.report?.corrupted ?? '', /line 2/);
});
