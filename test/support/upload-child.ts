// A separate process that uploads one large file over the real SSH engine, so that a test can SIGKILL it in
// the middle of the transfer (test/integration/ssh-interrupts.test.ts). Arguments come as one JSON document
// in KCORE_UPLOAD_CHILD: { target, knownHostsPath, path, size, seed }. Prints `uploading` once the upload starts.
import { createHash } from 'node:crypto';
import { SshPool, type HostTarget } from '../../src/ssh/index.js';

const args = JSON.parse(process.env.KCORE_UPLOAD_CHILD ?? '{}') as { target: HostTarget; knownHostsPath: string; path: string; size: number; seed: string };
// Deterministic, incompressible content of the requested size.
const content = Buffer.alloc(args.size);
for (let off = 0, i = 0; off < args.size; i++) off += createHash('sha256').update(`${args.seed}:${i}`).digest().copy(content, off);
const pool = new SshPool({ knownHostsPath: args.knownHostsPath, retries: 0 });
const conn = await pool.connection(args.target);
process.stdout.write('uploading\n');
await conn.upload({ path: args.path, content, mode: 0o755, sudo: true });
process.stdout.write('done\n');
await pool.closeAll();
