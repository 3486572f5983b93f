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

/** Sorted, de-duplicated copy (byte order for the ASCII values PSA reports). */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}
