// Bearer tokens the agent and the CLI send to the collector. Read from the file on every
// connect (the kubelet rotates projected ServiceAccount tokens in place), never logged.
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/** The projected token the agent DaemonSet mounts (audience netconform-collector). */
export const AGENT_TOKEN_PATH = '/var/run/secrets/netconform/token';
/** The Pod's own ServiceAccount token (audience: the API server). */
export const POD_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The token in `file`, trimmed; an unreadable or empty file is an error naming it. */
export function readTokenFile(file: string, flag = '--token-file'): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, flag);
  }
  const token = text.trim();
  if (!token) throw new UsageError(`${file} is empty (expected a bearer token)`, flag);
  if (/\s/.test(token)) throw new UsageError(`${file}: a token is one line without spaces`, flag);
  return token;
}
