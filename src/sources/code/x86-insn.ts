/** x86_64 register names and what an instruction's AT&T text says beyond its operands: shared by the decoder and pasted `dis` text. */
import type { Instruction } from '../../model/queries.ts';

const REG64: Record<string, string> = {
  al: 'rax', ah: 'rax', ax: 'rax', eax: 'rax', rax: 'rax',
  bl: 'rbx', bh: 'rbx', bx: 'rbx', ebx: 'rbx', rbx: 'rbx',
  cl: 'rcx', ch: 'rcx', cx: 'rcx', ecx: 'rcx', rcx: 'rcx',
  dl: 'rdx', dh: 'rdx', dx: 'rdx', edx: 'rdx', rdx: 'rdx',
  sil: 'rsi', si: 'rsi', esi: 'rsi', rsi: 'rsi',
  dil: 'rdi', di: 'rdi', edi: 'rdi', rdi: 'rdi',
  bpl: 'rbp', bp: 'rbp', ebp: 'rbp', rbp: 'rbp',
  spl: 'rsp', sp: 'rsp', esp: 'rsp', rsp: 'rsp',
  rip: 'rip', eip: 'rip',
};

/** The 64-bit register a register name belongs to (`%eax` -> rax, `%r12d` -> r12). */
export function fullRegister(name: string): string {
  const n = name.replace(/^%/, '').toLowerCase();
  if (REG64[n]) return REG64[n];
  const r = /^(r\d+)[dwb]?$/.exec(n);
  return r ? r[1] : n;
}

/** Constants (`mov $0x..,%rdi`, `lea sym(%rip),%rdi`), register copies (`mov %rbx,%rdi`) and bit tests (`test $0x1,%al`). */
export function addX86Facts(x: Instruction): void {
  const t = x.text.replace(/\s+#.*$/, '');
  const imm = /^mov[lq]?\s+\$0x([0-9a-f]+),%(\w+)$/.exec(t);
  if (imm && x.writes) x.value = BigInt(`0x${imm[1]}`);
  else if (x.mnemonic.startsWith('lea') && x.memory?.ripRelative !== undefined && x.writes) x.value = x.memory.ripRelative;
  const reg = /^mov[q]?\s+%(r\w+),%(r\w+)$/.exec(t);
  if (reg && x.writes) x.copies = reg[1];
  const bit = /^(test|and)[bwlq]?\s+\$0x1,%(\w+)$/.exec(t);
  if (bit) x.testsBit = { reg: fullRegister(bit[2]), bit: 0 };
}
