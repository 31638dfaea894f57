/**
 * Renderers for engine events off a TTY: plain lines for people reading CI logs, JSON lines for
 * machines. Both consume exactly the events the Ink panels consume.
 */
import type { EngineEvent, EventSink } from '../engine/events.js';

const STATUS_WORD = { ok: 'ok', changed: 'changed', failed: 'FAILED', skipped: 'skipped', unreachable: 'UNREACHABLE' } as const;

export interface PlainOptions {
  /** Also print ok tasks and task output (default true). */
  verbose?: boolean;
}

export function createPlainRenderer(write: (s: string) => void, opts: PlainOptions = {}): EventSink {
  const verbose = opts.verbose ?? true;
  let width = 12;
  let dryRun = false;
  const pad = (s: string) => s.padEnd(width);
  return (e: EngineEvent) => {
    switch (e.type) {
      case 'run-start':
        width = Math.max(12, ...e.hosts.map((h) => h.name.length + 1));
        dryRun = e.dryRun;
        if (e.dryRun) write('dry run: nothing is changed; "would change" lines say what would change, "WOULD FAIL" where a converge would stop\n');
        break;
      case 'role-start':
        write(`\n== ${e.role} [${e.hosts.join(', ')}]\n`);
        break;
      case 'task-output':
        if (verbose) write(`   ${pad(e.host)} | ${e.line}\n`);
        break;
      case 'task-end': {
        if (!verbose && e.status === 'ok') break;
        const word = e.wouldFail ? 'WOULD FAIL' : dryRun && e.status === 'changed' ? 'would change' : STATUS_WORD[e.status];
        write(`   ${pad(e.host)} ${word.padEnd(12)} ${e.task}${e.durationMs >= 1000 ? ` (${(e.durationMs / 1000).toFixed(1)} s)` : ''}\n`);
        for (const c of e.changes) write(`   ${pad('')} ${''.padEnd(12)} - ${c}\n`);
        if (e.message) for (const l of e.message.split('\n')) write(`   ${pad('')} ${''.padEnd(12)} ${l}\n`);
        break;
      }
      case 'host-key':
        if (e.kind !== 'verified') write(`   ${pad(e.host)} host key ${e.kind === 'recorded' ? 'recorded (first contact)' : 'CHANGED and accepted'}: ${e.keyType} ${e.fingerprint}\n`);
        break;
      case 'log':
        write(`${e.level === 'info' ? '' : `${e.level}: `}${e.host ? `${e.host}: ` : ''}${e.message}\n`);
        break;
      case 'phase':
        if (e.status !== 'end') write(`\n-- ${e.phase}: ${e.status}${e.message ? `: ${e.message}` : ''}\n`);
        break;
      case 'process-output':
        write(`   ${e.machine ? `${pad(e.machine)} ` : ''}${e.stream === 'stderr' ? '! ' : ''}${e.line}\n`);
        break;
      case 'run-end': {
        write(`\n== recap (${e.status}, ${(e.durationMs / 1000).toFixed(1)} s)\n`);
        for (const [host, r] of Object.entries(e.recap))
          write(`   ${pad(host)} ${r.state.padEnd(12)} ok=${r.ok} changed=${r.changed} failed=${r.failed} skipped=${r.skipped} unreachable=${r.unreachable}\n`);
        break;
      }
      default:
        break;
    }
  };
}

/** One JSON object per line, one per event. */
export function createJsonRenderer(write: (s: string) => void): EventSink {
  return (e) => write(JSON.stringify(e) + '\n');
}
