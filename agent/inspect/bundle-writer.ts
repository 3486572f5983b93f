// Writing bundle files: each writer (bundle.ts and the facet modules it calls) puts files in
// the bundle directory and returns the names it wrote, for `capture` to list.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BundleWriter {
  put(name: string, text: string): void;
  /** The names put so far, in order. */
  readonly written: string[];
}

export function bundleWriter(dir: string): BundleWriter {
  const written: string[] = [];
  return {
    written,
    put(name, text) {
      writeFileSync(join(dir, name), text);
      written.push(name);
    },
  };
}
