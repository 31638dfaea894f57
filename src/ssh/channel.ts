// One command on one channel of an open connection: the wrapped command sent, stdout/stderr streamed
// line by line and redacted, stdin passed, the exit status read; on timeout or abort, every process of the
// command killed on the host (through a spare session), then the channel closed.

import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel } from 'ssh2';
import { SshError, abortedError } from './errors.js';
import { LineSplitter, createRedactor } from './redact.js';
import { SUDO_RAN_TAG, killScript, sudoRefusal, withoutRanLine, wrapCommand } from './scripts.js';
import type { Semaphore } from './semaphore.js';
import type { ExecOptions, ExecResult } from './types.js';

export interface ChannelRun {
  command: string;
  /** What logs and errors show (the caller's command, redacted). */
  shown: string;
  sudo: boolean;
  opts: ExecOptions;
  raw?: boolean;
  /** Internal commands (the kill script) do not take a channel slot and are not killed themselves. */
  internal?: boolean;
  /** Check `sudo -n` in the same sudo (the connection does not know yet whether it works): scripts.ts. */
  sudoCheck?: boolean;
}

export interface RawResult extends ExecResult {
  rawStdout?: Buffer;
  /** The folded sudo check failed (the command did not run): what sudo said. */
  sudoRefused?: string;
  /** The folded sudo check passed: the command's shell ran as root. */
  sudoRan?: boolean;
}

/** Raised before a channel was opened: nothing ran, so the command can be retried on a new connection. */
export class NotStarted extends Error {
  constructor(readonly original: unknown) {
    super('channel not opened');
  }
}

export class ChannelRunner {
  constructor(
    private readonly name: string,
    /** Whether `client` is still the host's live connection (a lost one is not asked to kill anything). */
    private readonly isCurrent: (client: Client) => boolean,
    /** The session slot kept for kill commands. */
    private readonly spare: Semaphore,
  ) {}

  run(client: Client, run: ChannelRun): Promise<RawResult> {
    const { opts } = run;
    const marker = randomBytes(9).toString('base64url');
    const wrapped = wrapCommand(run.command, { sudo: run.sudo, marker, sudoCheck: run.sudoCheck });
    const started = Date.now();
    const secrets = opts.secrets ?? [];

    return new Promise<RawResult>((resolve, reject) => {
      let channel: ClientChannel | undefined;
      /** Resolves when the host has closed the channel (listened for from the moment it opened). */
      let channelClosed: Promise<void> = Promise.resolve();
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let callbackError: unknown;
      const outRed = createRedactor(secrets);
      const errRed = createRedactor(secrets);
      const outDec = new StringDecoder('utf8');
      const errDec = new StringDecoder('utf8');
      const guard =
        (fn?: (l: string) => void) =>
        (l: string): void => {
          if (!fn || callbackError !== undefined) return;
          try {
            fn(l);
          } catch (e) {
            callbackError = e;
          }
        };
      const outLines = new LineSplitter(guard(opts.onStdout));
      const toStderr = guard(opts.onStderr);
      // With the folded sudo check, stderr lines wait for the line the command's shell prints once it runs as
      // root: what comes before it is sudo's (a refusal is the connection's to report, not the command's output;
      // a warning such as "unable to resolve host" is passed on once the command runs).
      const ranLine = `${SUDO_RAN_TAG}${marker}`;
      let ran = !run.sudoCheck;
      const held: string[] = [];
      const errLines = new LineSplitter(
        ran
          ? toStderr
          : (l) => {
              if (ran) return toStderr(l);
              if (l !== ranLine) return void held.push(l);
              ran = true;
              for (const h of held.splice(0)) toStderr(h);
            },
      );
      let stdout = '';
      let stderr = '';
      const rawChunks: Buffer[] = [];
      let exit: { code: number | null; signal?: string } | undefined;

      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };

      /** An abort or timeout that came while the channel was still opening: onOpen settles it. */
      let stoppedBeforeOpen: SshError | undefined;
      const stop = (err: SshError): void => {
        if (settled) return;
        settled = true;
        cleanup();
        const ch = channel;
        if (run.internal) {
          try {
            ch?.close();
          } catch {
            /* already closed */
          }
          return reject(err);
        }
        // The exec request is out: the command may be starting on the host. Wait for the channel (onOpen),
        // so the caller does not see the command end while its processes still run.
        if (!ch) return void (stoppedBeforeOpen = err);
        void this.stopRemote(client, ch, channelClosed, marker, run.sudo).then(() => reject(err));
      };
      const onAbort = (): void =>
        stop(abortedError(this.name, `\`${run.shown}\``, opts.signal?.reason));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined && opts.timeoutMs > 0) {
        const ms = opts.timeoutMs;
        timer = setTimeout(
          () =>
            stop(
              new SshError({
                kind: 'timeout',
                host: this.name,
                retryable: false,
                message: `\`${run.shown}\` on ${this.name} did not finish within ${ms} ms; it was killed.`,
                hint: 'The command and its child processes were stopped (TERM, then KILL). Raise the timeout if the step is just slow.',
              }),
            ),
          ms,
        );
      }

      const finalize = (): void => {
        if (settled) return;
        settled = true;
        cleanup();
        const tailOut = outRed.push(outDec.end()) + outRed.flush();
        const tailErr = errRed.push(errDec.end()) + errRed.flush();
        stdout += tailOut;
        stderr += tailErr;
        outLines.push(tailOut);
        outLines.flush();
        errLines.push(tailErr);
        errLines.flush();
        let refused: string | undefined;
        if (run.sudoCheck) {
          refused = ran ? undefined : sudoRefusal(stderr, exit?.code ?? null, marker);
          // Not a refusal (the session ended without a status): what was held is the command's.
          if (refused === undefined) for (const h of held.splice(0)) toStderr(h);
          if (ran) stderr = withoutRanLine(stderr, marker) ?? stderr;
        }
        if (callbackError !== undefined) return reject(callbackError);
        if (!exit) {
          const lost = !this.isCurrent(client);
          return reject(
            new SshError({
              kind: 'protocol',
              host: this.name,
              retryable: false,
              message: lost
                ? `The connection to ${this.name} was lost while \`${run.shown}\` was running; it may or may not have completed.`
                : `\`${run.shown}\` on ${this.name} ended without an exit status (the SSH channel closed early).`,
              hint: lost
                ? 'Check that the machine is still up (`vagrant status`); running the step again reconnects.'
                : 'sshd closed the session without reporting how the command ended; check the machine (`journalctl -u sshd`).',
            }),
          );
        }
        const r: RawResult = { stdout, stderr, exitCode: exit.code, durationMs: Date.now() - started };
        if (exit.signal) r.signal = exit.signal;
        if (refused !== undefined) r.sudoRefused = refused;
        if (run.sudoCheck) r.sudoRan = ran;
        if (run.raw) r.rawStdout = Buffer.concat(rawChunks);
        resolve(r);
      };

      const onOpen = (err: Error | undefined, ch: ClientChannel): void => {
        if (err) {
          if (settled) return void (stoppedBeforeOpen && reject(stoppedBeforeOpen));
          settled = true;
          cleanup();
          return reject(new NotStarted(err));
        }
        channel = ch;
        channelClosed = new Promise((resolve) => ch.once('close', () => resolve()));
        if (settled) {
          if (run.internal) return void ch.close(); // an internal command is not killed (stop() has answered)
          // Stopped while the channel was opening: the command may have started (an upload may have created
          // its temp file); settle only once its processes are gone.
          ch.on('error', () => undefined);
          ch.resume();
          ch.stderr.resume();
          const err = stoppedBeforeOpen;
          void this.stopRemote(client, ch, channelClosed, marker, run.sudo).then(() => err && reject(err));
          return;
        }
        let outEnded = false;
        let errEnded = false;
        let closed = false;
        const maybeDone = (): void => {
          if (closed && outEnded && errEnded) finalize();
        };
        ch.on('data', (b: Buffer) => {
          if (settled) return;
          if (run.raw) {
            rawChunks.push(b);
            return;
          }
          const text = outRed.push(outDec.write(b));
          stdout += text;
          outLines.push(text);
        });
        ch.stderr.on('data', (b: Buffer) => {
          if (settled) return;
          const text = errRed.push(errDec.write(b));
          stderr += text;
          errLines.push(text);
        });
        ch.on('end', () => {
          outEnded = true;
          maybeDone();
        });
        ch.stderr.on('end', () => {
          errEnded = true;
          maybeDone();
        });
        ch.on('exit', (code: number | null, signal?: string) => {
          exit = { code: code ?? null };
          if (code === null || code === undefined) exit = { code: null, signal: signal ?? 'SIGKILL' };
        });
        ch.on('error', () => undefined);
        ch.on('close', () => {
          closed = true;
          // Streams were ended before 'close'; give their 'end' events a turn, then settle regardless.
          setImmediate(() => {
            outEnded = outEnded || ch.readableEnded || !ch.readable;
            errEnded = errEnded || ch.stderr.readableEnded || !ch.stderr.readable;
            if (!outEnded) ch.resume();
            if (!errEnded) ch.stderr.resume();
            maybeDone();
            setTimeout(finalize, 200).unref();
          });
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      };

      try {
        client.exec(wrapped, onOpen);
      } catch (e) {
        settled = true;
        cleanup();
        reject(new NotStarted(e));
      }
    });
  }

  /**
   * Stops a command that is (or may be) running: kills its processes, waits for the host to close the
   * channel (the session's processes have ended, so their EXIT traps, such as an upload's temp-file removal,
   * have run), kills once more if it did not (the command may have exec'd after the first look), then closes
   * the channel. Bounded (~25 s at worst); never rejects.
   */
  private async stopRemote(client: Client, ch: ClientChannel, closed: Promise<void>, marker: string, sudo: boolean): Promise<void> {
    const closedWithin = (ms: number): Promise<boolean> => {
      let t: NodeJS.Timeout | undefined;
      return Promise.race([closed.then(() => true), new Promise<boolean>((r) => (t = setTimeout(() => r(false), ms)))]).finally(() => clearTimeout(t));
    };
    try {
      // Closed already (the command ended just as it was stopped): nothing is left to kill.
      let done = await closedWithin(0);
      for (let round = 0; round < 2 && !done && this.isCurrent(client); round++) {
        await this.killRemote(client, marker, sudo);
        // Without stdin's end a command that reads it never finishes; the kill has ended what it found.
        try {
          ch.end();
        } catch {
          /* already ended */
        }
        done = await closedWithin(2_000);
      }
    } finally {
      try {
        ch.close();
      } catch {
        /* already closed */
      }
    }
  }

  /** Kill every process of one command (bounded: never waits more than ~10 s). */
  private async killRemote(client: Client, marker: string, sudo: boolean): Promise<void> {
    if (!this.isCurrent(client)) return; // the connection is gone: sshd hangs up the session itself
    const release = await this.spare.acquire();
    try {
      const ctl = new AbortController();
      const t = setTimeout(() => ctl.abort(), 10_000);
      try {
        await this.run(client, {
          command: killScript(marker),
          shown: 'kill timed-out command',
          sudo,
          opts: { signal: ctl.signal },
          internal: true,
        });
      } finally {
        clearTimeout(t);
      }
    } catch {
      /* best effort: the channel is closed anyway */
    } finally {
      release();
    }
  }
}
