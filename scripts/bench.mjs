// `npm run bench`: runs every benchmark in bench/ (each prints its own figures).
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(`${root}/bench`).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).sort()
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
let failed = 0;
for (const f of files) {
  console.log(`\n=== bench/${f} ===`);
  try {
    execFileSync(process.execPath, ['--import', 'tsx', '--expose-gc', `${root}/bench/${f}`], { cwd: root, stdio: 'inherit' });
  } catch {
    failed++;
    console.log(`bench/${f} failed`);
  }
}
process.exit(failed ? 1 : 0);
