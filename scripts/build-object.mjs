// Builds the object the package ships (prebuilt/): the program with no kernel
// filter, so that plain traces run where clang is not installed. Run at pack
// time, after the build; needs clang.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// prepare runs in a checkout too (npm ci): there the tests want no shipped
// object (they build with clang, or fail without it), and npm pack makes one
// in prepack. Installed from a git URL, npm runs prepare in its own clone,
// away from where npm was started: the object is made there.
if (
  process.argv.includes('--unless-local') &&
  process.env.INIT_CWD &&
  resolve(process.env.INIT_CWD) === resolve(ROOT)
) {
  console.log('prebuilt/: not made in the checkout itself (npm pack makes it)');
  process.exit(0);
}
const { generateProgram } = await import(join(ROOT, 'dist/codegen/program.js'));
const { splitFilter } = await import(join(ROOT, 'dist/plan/split.js'));
const IR = await import(join(ROOT, 'dist/dsl/ir.js'));
const { buildObject } = await import(join(ROOT, 'dist/kernel/build.js'));

const sha = (b) => createHash('sha256').update(b).digest('hex');
const { source } = generateProgram(splitFilter(IR.TRUE));
const dir = join(ROOT, 'prebuilt');
mkdirSync(dir, { recursive: true });
// Built fresh (no cache, no older prebuilt): what clang makes of this source now.
const meta = join(dir, 'tcplife.bpf.json');
writeFileSync(meta, '{}');
const { object } = await buildObject(source, { cacheDir: null });
writeFileSync(join(dir, 'tcplife.bpf.o'), object);
writeFileSync(
  meta,
  `${JSON.stringify({ source_sha256: sha(source), object_sha256: sha(object) }, null, 2)}\n`,
);
console.log(`prebuilt/tcplife.bpf.o: ${object.length} bytes`);
