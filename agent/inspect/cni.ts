// CNI configuration facts: every regular file in the conf dir (text kept raw, so checks judge
// it exactly as the runtime would and evidence can quote it) and the plugin binaries present
// in the bin dir. Live, the conf dir is the node's /etc/cni/net.d (a hostPath mount); in a
// bundle it is the `cni/` copy and the binaries are `cni-bin.txt`. Parsing lives in
// agent/checks/cni/conflist.ts (pure).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../common/errors.js';

export interface CniFileFacts {
  readonly name: string;
  /** Raw text of the file, so checks can judge it and evidence can quote it. */
  readonly text: string;
  /** The file was larger than MAX_CNI_FILE_BYTES; `text` holds its beginning only. */
  readonly truncated?: boolean;
}

export interface CniFacts {
  readonly confDir: string;
  /** Regular files of the conf dir, sorted by name (subdirectories are not read). */
  readonly files: readonly CniFileFacts[];
  /** Plugin binaries present in the bin dir; undefined when the bin dir was not read. */
  readonly binaries?: readonly string[];
}

/** CNI configs are small; a file bigger than this is not a config anyone meant. */
export const MAX_CNI_FILE_BYTES = 1024 * 1024;

/**
 * Reads a conf dir. A missing dir is an empty one (the node has no CNI config — itself a
 * finding); a dir that exists but cannot be read is an InputError.
 */
export function readCniConfDir(confDir: string): CniFileFacts[] {
  let names: string[];
  try {
    names = readdirSync(confDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new InputError(confDir, `cannot read CNI conf dir: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const files: CniFileFacts[] = [];
  for (const name of names.sort()) {
    const path = join(confDir, name);
    try {
      const st = statSync(path); // follows symlinks, as the runtime does
      if (!st.isFile()) continue;
      const buf = readFileSync(path);
      files.push(buf.length > MAX_CNI_FILE_BYTES
        ? { name, text: buf.subarray(0, MAX_CNI_FILE_BYTES).toString('utf8'), truncated: true }
        : { name, text: buf.toString('utf8') });
    } catch {
      // A dangling symlink or a file removed while listing: the runtime cannot read it either.
    }
  }
  return files;
}

/** Names in the plugin bin dir; undefined when it does not exist or cannot be listed. */
export function readCniBinDir(binDir: string): string[] | undefined {
  try {
    return readdirSync(binDir).filter((n) => {
      try {
        return statSync(join(binDir, n)).isFile();
      } catch {
        return false;
      }
    }).sort();
  } catch {
    return undefined;
  }
}

export function readCniLive(confDir: string, binDir: string): CniFacts {
  const binaries = readCniBinDir(binDir);
  return { confDir, files: readCniConfDir(confDir), ...(binaries !== undefined ? { binaries } : {}) };
}

/** `cni-bin.txt`: one name a line; blank lines and `#` comments ignored. */
export function parseCniBinText(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).sort();
}

export function formatCniBinText(binaries: readonly string[]): string {
  return binaries.map((b) => b + '\n').join('');
}
