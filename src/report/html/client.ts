/// <reference lib="dom" />
/**
 * The page's only script (bundled by esbuild into the report): graph node -> evidence panel, copy buttons,
 * task table sorting, filtering and cluster folding. The page reads fine without it (and in print).
 */

const $$ = <T extends Element>(sel: string, root: ParentNode = document): T[] => Array.from(root.querySelectorAll<T>(sel));

function cssId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, (ch) => `\\${ch.charCodeAt(0).toString(16)} `);
}

/** The finding's article id, as esc.ts `findingAnchor` builds it. */
function findingAnchor(id: string): string {
  return `f-${id.replace(/[^A-Za-z0-9_.:-]/g, (ch) => `_${ch.charCodeAt(0).toString(16)}`)}`;
}

function showNode(node: SVGGElement): void {
  const panel = document.getElementById('node-panel');
  if (!panel) return;
  for (const n of $$('.graph .node.sel')) n.classList.remove('sel');
  for (const e of $$('.graph .edge.sel')) e.classList.remove('sel');
  node.classList.add('sel');
  const idx = node.dataset.node ?? '';
  for (const e of $$<SVGGElement>('.graph .edge')) if (e.dataset.from === idx || e.dataset.to === idx) e.classList.add('sel');

  panel.replaceChildren();
  const head = document.createElement('div');
  head.className = 'phead';
  const kind = document.createElement('span');
  kind.className = 'muted';
  kind.textContent = node.dataset.kind ?? '';
  const title = document.createElement('h3');
  title.textContent = node.dataset.label ?? '';
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'close';
  close.textContent = '×';
  close.setAttribute('aria-label', 'close');
  close.addEventListener('click', () => {
    node.classList.remove('sel');
    for (const e of $$('.graph .edge.sel')) e.classList.remove('sel');
    panel.classList.remove('open');
    node.focus();
  });
  head.append(close, kind, title);
  panel.append(head);
  const members = document.getElementById(`gm-${idx}`) as HTMLTemplateElement | null;
  if (members) panel.append(members.content.cloneNode(true));
  const ids = (node.dataset.findings ?? '').split(' ').filter(Boolean);
  if (!ids.length) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'No finding names this node directly.';
    panel.append(p);
  }
  for (const id of ids) {
    const art = document.getElementById(findingAnchor(id));
    if (!art) continue;
    const copy = art.cloneNode(true) as HTMLElement;
    copy.removeAttribute('id');
    for (const el of $$('[id]', copy)) el.removeAttribute('id');
    copy.classList.add('in-panel');
    const link = document.createElement('a');
    link.href = `#${art.id}`;
    link.className = 'goto';
    link.textContent = 'open in findings ↓';
    copy.querySelector('header')?.append(link);
    panel.append(copy);
  }
  panel.classList.add('open');
  if (panel.getBoundingClientRect().top > window.innerHeight - 80) panel.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function initGraph(): void {
  for (const node of $$<SVGGElement>('.graph .node')) {
    node.addEventListener('click', () => showNode(node));
    node.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        showNode(node);
      }
    });
  }
}

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.className = 'offscreen';
    document.body.append(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

function initCopy(): void {
  document.addEventListener('click', (ev) => {
    const btn = (ev.target as Element | null)?.closest?.('button.copy') as HTMLButtonElement | null;
    if (!btn) return;
    const code = btn.parentElement?.querySelector('code');
    if (!code) return;
    void copyText(code.textContent ?? '').then((ok) => {
      btn.textContent = ok ? 'copied' : 'select & copy';
      btn.classList.toggle('done', ok);
      window.setTimeout(() => {
        btn.textContent = 'copy';
        btn.classList.remove('done');
      }, 1500);
    });
  });
}

function initTasks(): void {
  const table = document.getElementById('tasks-table') as HTMLTableElement | null;
  if (!table) return;
  const bodies = $$<HTMLTableSectionElement>('tbody', table);
  const count = document.querySelector<HTMLElement>('.filters[data-for="tasks"] .count');

  for (const b of bodies) {
    const t = b.querySelector<HTMLButtonElement>('button.toggle');
    t?.addEventListener('click', () => {
      const collapsed = b.classList.toggle('collapsed');
      t.textContent = collapsed ? '▸' : '▾';
      t.setAttribute('aria-expanded', String(!collapsed));
    });
  }

  const get = (name: string) => document.querySelector<HTMLInputElement | HTMLSelectElement>(`.filters[data-for="tasks"] [data-filter="${name}"]`);
  const apply = () => {
    const state = get('state')?.value ?? '';
    const cluster = get('cluster')?.value ?? '';
    const text = (get('text')?.value ?? '').trim().toLowerCase();
    let shown = 0;
    let total = 0;
    for (const b of bodies) {
      let any = false;
      const rows = $$<HTMLTableRowElement>('tr.t', b);
      for (const r of rows) {
        total++;
        const ok =
          (!state || r.dataset.state === state) &&
          (!cluster || r.dataset.cluster === cluster) &&
          (!text || (r.textContent ?? '').toLowerCase().includes(text) || (r.querySelector('.tstack')?.getAttribute('title') ?? '').toLowerCase().includes(text));
        r.hidden = !ok;
        if (ok) {
          any = true;
          shown++;
        }
      }
      b.hidden = !any;
      // A filter that picks rows out of a folded cluster unfolds it.
      if (any && (state || text || cluster) && b.classList.contains('collapsed')) b.querySelector<HTMLButtonElement>('button.toggle')?.click();
    }
    if (count) count.textContent = state || cluster || text ? `${shown} of ${total} tasks` : '';
  };
  for (const name of ['state', 'cluster', 'text']) get(name)?.addEventListener('input', apply);

  for (const th of $$<HTMLTableCellElement>('th[data-sort]', table)) {
    th.tabIndex = 0;
    const sort = () => {
      const col = th.cellIndex;
      const num = th.dataset.sort === 'num';
      const dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      for (const o of $$('th[aria-sort]', table)) o.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      const key = (r: HTMLTableRowElement) => {
        const c = r.cells[col];
        return num ? Number(c?.dataset.v ?? c?.textContent ?? 0) : (c?.textContent ?? '').toLowerCase();
      };
      for (const b of bodies) {
        const rows = $$<HTMLTableRowElement>('tr.t', b);
        rows.sort((a, z) => {
          const x = key(a);
          const y = key(z);
          return (x < y ? -1 : x > y ? 1 : 0) * dir;
        });
        b.append(...rows);
      }
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') sort();
    });
  }
}

/** Following a link into a folded cluster (or a collapsed <details>) unfolds it. */
function revealTarget(): void {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id) return;
  const el = document.querySelector(`#${cssId(id)}`);
  if (!el) return;
  const body = el.closest('tbody.collapsed');
  if (body) body.querySelector<HTMLButtonElement>('button.toggle')?.click();
  const det = el.closest('details');
  if (det) det.open = true;
  el.scrollIntoView({ block: 'center' });
}

function init(): void {
  document.documentElement.classList.add('js');
  initGraph();
  initCopy();
  initTasks();
  window.addEventListener('hashchange', revealTarget);
  revealTarget();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
