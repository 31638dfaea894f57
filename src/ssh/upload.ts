// Uploads over exec: the content travels on stdin to a shell script that writes a temp file next to the
// target and renames it into place once its checksum is right (scripts.ts: uploadScript). Small files are
// compared and written in one session; large ones are looked at first, so an unchanged file is not sent.
// The first upload into a directory during a run also sweeps the temps interrupted uploads left there.

import { createHash, randomBytes } from 'node:crypto';
import { SshError } from './errors.js';
import { secretsFromContent } from './redact.js';
import { CORRUPT_EXIT, fixAttrsScript, statScript, uploadScript } from './scripts.js';
import type { ExecOptions, ExecResult, UploadResult, UploadSpec } from './types.js';

/** Uploads up to this size check and write in one session; larger ones are checked first, then sent. */
export const SMALL_UPLOAD_BYTES = 256 * 1024;

/** What an upload needs of the host's connection. */
export interface UploadHost {
  name: string;
  /** Runs an internal command (shown in logs and errors as `shownAs`); resolves with any exit status. */
  exec(command: string, opts: ExecOptions, shownAs: string): Promise<ExecResult>;
  failed(shown: string, r: ExecResult, what: string): SshError;
}

export class Uploader {
  /** Directories already swept of stale upload temps during this run. */
  private readonly swept = new Set<string>();

  constructor(
    private readonly host: UploadHost,
    /** When the run began (Date.now()). */
    private readonly runStartedAt: number,
  ) {}

  /** The first upload into a directory during a run also deletes the temps earlier runs left there. */
  private sweepAge(path: string): number | undefined {
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.';
    if (this.swept.has(dir)) return undefined;
    this.swept.add(dir);
    return Math.ceil((Date.now() - this.runStartedAt) / 1000) + 1;
  }

  async upload(file: UploadSpec, opts: { signal?: AbortSignal } = {}): Promise<UploadResult> {
    const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
    const sha = createHash('sha256').update(content).digest('hex');
    const secrets = file.secret ? secretsFromContent(content) : [];
    const base = { sudo: file.sudo, signal: opts.signal, secrets };
    const what = `upload ${file.path}`;

    const failed = (r: ExecResult): SshError => {
      if (r.exitCode === CORRUPT_EXIT) {
        return new SshError({
          kind: 'protocol',
          host: this.host.name,
          retryable: true,
          message: `The upload of ${file.path} to ${this.host.name} arrived corrupted (checksum mismatch); the target was left untouched.`,
          hint: 'Run the step again.',
        });
      }
      return this.host.failed(what, r, `Writing ${file.path}`);
    };

    if (content.length <= SMALL_UPLOAD_BYTES) {
      // One session: compare and (only if needed) write. The content travels even when unchanged.
      const script = uploadScript({ ...file, sha256: sha, checkFirst: true, tempId: randomBytes(8).toString('hex'), sweepOlderThanSec: this.sweepAge(file.path) });
      const r = await this.host.exec(script, { ...base, stdin: content }, what);
      if (r.exitCode !== 0) throw failed(r);
      return { changed: !r.stdout.trimEnd().endsWith('kcore-upload:unchanged'), sha256: sha };
    }

    // Large content: look first, so an unchanged file costs no transfer.
    const st = await this.host.exec(statScript(file.path, this.sweepAge(file.path)), base, `stat ${file.path}`);
    let sameContent = false;
    let sameAttrs = false;
    if (st.exitCode === 0 && st.stdout.trim() !== 'missing') {
      const [attrs, sum] = st.stdout.trim().split('\n');
      const [mode, owner, group] = (attrs ?? '').split(' ');
      sameContent = (sum ?? '').split(/\s+/)[0] === sha;
      sameAttrs =
        mode !== undefined &&
        parseInt(mode, 8) === file.mode &&
        (file.owner === undefined || owner === file.owner) &&
        (file.group === undefined || group === file.group);
    }
    if (sameContent && sameAttrs) return { changed: false, sha256: sha };
    if (sameContent) {
      const r = await this.host.exec(fixAttrsScript(file), base, `chmod/chown ${file.path}`);
      if (r.exitCode !== 0) throw this.host.failed(what, r, `Setting mode/owner of ${file.path}`);
      return { changed: true, sha256: sha };
    }
    const r = await this.host.exec(uploadScript({ ...file, sha256: sha, tempId: randomBytes(8).toString('hex') }), { ...base, stdin: content }, what);
    if (r.exitCode !== 0) throw failed(r);
    return { changed: true, sha256: sha };
  }
}
