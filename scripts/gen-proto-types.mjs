// Generates TypeScript types for proto/ into gen/proto (not committed) with
// proto-loader-gen-types, so wire types have one source of truth: the .proto files.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, mkdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'gen', 'proto');
const protoDir = join(root, 'proto');

function protoFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return protoFiles(p);
    return name.endsWith('.proto') ? [p.slice(protoDir.length + 1)] : [];
  });
}

const require = createRequire(import.meta.url);
const pkgJson = require.resolve('@grpc/proto-loader/package.json');
const genBin = join(dirname(pkgJson), 'build', 'bin', 'proto-loader-gen-types.js');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(process.execPath, [
  genBin,
  '--grpcLib=@grpc/grpc-js',
  '--outDir', out,
  '--includeDirs', protoDir,
  '--longs=String', '--enums=String', '--defaults', '--oneofs',
  ...protoFiles(protoDir),
], { stdio: ['ignore', 'ignore', 'inherit'] });
// The generator writes extensionless relative imports (CommonJS style); marking the
// folder CommonJS keeps them valid under NodeNext. The files hold types only.
import { writeFileSync } from 'node:fs';
writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
