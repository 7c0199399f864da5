/** Checks on a rendered page shared by the HTML tests. */

/** URL-bearing attributes of the page's tags that point outside it (script and style bodies are not tags). */
export function externalRefs(html: string): string[] {
  const body = html.replace(/<script>[\s\S]*?<\/script>/g, '').replace(/<style>[\s\S]*?<\/style>/g, '');
  const out: string[] = [];
  for (const tag of body.match(/<[a-zA-Z][^>]*>/g) ?? []) {
    for (const m of tag.matchAll(/\s(src|href|action|srcset|data|poster|xlink:href|formaction|background)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi)) {
      const v = m[2].replace(/^["']|["']$/g, '');
      if (!v.startsWith('#')) out.push(v);
    }
  }
  return out;
}
