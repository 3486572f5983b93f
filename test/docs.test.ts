// The documentation's shape (#24): a README a user reads in one sitting that reaches every
// page under docs/, and links that land — every relative link names a file that exists and,
// with a #fragment, a heading of that file as GitHub anchors it.
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');
const DOCS = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`).sort();
const PAGES = ['README.md', ...DOCS];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

function anchorsOf(text: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (m) out.add(anchor(m[1]!));
  }
  return out;
}

/** Relative Markdown links `[text](target)` outside code fences. */
function linksOf(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) if (!/^[a-z]+:/.test(m[1]!)) out.push(m[1]!);
  }
  return out;
}

test('the README is at most 200 lines and links every page under docs/', (t) => {
  const readme = read('README.md');
  const lines = readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0);
  t.true(lines <= 200, `README.md has ${lines} lines`);
  const linked = new Set(linksOf(readme).map((l) => l.split('#')[0]));
  t.deepEqual(DOCS.filter((d) => !linked.has(d)), [], 'pages the README does not link');
  t.true(DOCS.length >= 10, DOCS.join(', '));
});

test('the quick start is exactly the two commands, and npm test still promises its last line', (t) => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  t.deepEqual(block.trim().split('\n').map((l) => l.split('#')[0]!.trim()), ['npm run demo', 'npm test']);
  t.regex(block, /ends with "N passed, N failed"/);
});

test('every relative link in the README and docs/ names a file that exists, and a heading there when it has a fragment', (t) => {
  const broken: string[] = [];
  for (const page of PAGES) {
    for (const link of linksOf(read(page))) {
      const [path, fragment] = link.split('#') as [string, string | undefined];
      const target = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path);
      if (!existsSync(target)) broken.push(`${page}: ${link} (no such file)`);
      else if (fragment !== undefined && target.endsWith('.md') && !anchorsOf(readFileSync(target, 'utf8')).has(fragment)) {
        broken.push(`${page}: ${link} (no heading #${fragment} in ${relative(ROOT, target)})`);
      }
    }
  }
  t.deepEqual(broken, []);
});

test('the pages say how the real components are built and how both installs go', (t) => {
  const dev = read('docs/development.md');
  t.true(anchorsOf(dev).has('real-kubernetes-components'));
  t.regex(dev, /cold build, CPU time \| about [\d,]+ CPU-seconds/);
  t.true(read('docs/migration.md').includes('[kube-proxy mode migration](proxy-mode-migration.md)'));
  const readme = read('README.md');
  t.true(readme.includes('kubectl apply -f manifests/base/namespace.yaml'));
  t.true(readme.includes('helm install netconform charts/netconform -n netconform'));
});
