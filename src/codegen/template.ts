/**
 * Strict template filling: every @@SLOT@@ in the template must be given,
 * every value given must have a slot, and nothing that looks like a slot may
 * remain. Slot values are generated code, never user text.
 */
export class TemplateError extends Error {}

const SLOT = /@@([A-Z_]+)@@/g;

export function fillTemplate(template: string, slots: Readonly<Record<string, string>>): string {
  const found = new Set([...template.matchAll(SLOT)].map((m) => m[1]!));
  const given = new Set(Object.keys(slots));
  const missing = [...found].filter((s) => !given.has(s));
  const unknown = [...given].filter((s) => !found.has(s));
  if (missing.length) throw new TemplateError(`template slots not filled: ${missing.join(', ')}`);
  if (unknown.length) throw new TemplateError(`no such template slots: ${unknown.join(', ')}`);
  for (const [k, v] of Object.entries(slots)) {
    if (v.includes('@@')) throw new TemplateError(`value for ${k} contains '@@'`);
  }
  const out = template.replace(SLOT, (_, name: string) => slots[name]!);
  if (out.includes('@@')) throw new TemplateError('leftover slot marker after filling');
  return out;
}
