// Building blocks of the library's messages: pluralisation, quoting, "setter" phrases.
// Every detail string is assembled from these so that spacing and quoting stay identical.

export function pluralize(one: string, many: string, count: number): string {
  return count === 1 ? one : many;
}

/** `"a", "b"` — each item in double quotes, nothing escaped (as upstream's joinQuote). */
export function joinQuote(items: readonly string[]): string {
  let out = '';
  for (let i = 0; i < items.length; i++) out += (i === 0 ? '"' : ', "') + items[i] + '"';
  return out;
}

/** `container "a"` / `containers "a", "b"`. */
export function containersPhrase(names: readonly string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

/** Sorted, de-duplicated copy in byte order (Go's sort.Strings on the ASCII values PSA reports). */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(byteOrder);
}

/** Go's string comparison: UTF-16 code units agree with bytes for the ASCII names PSA sees. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Go's `%q` for a string: double-quoted, with `"` and `\` escaped and control characters
 * written as escapes. Annotation values appear this way in AppArmor and seccomp messages.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}
