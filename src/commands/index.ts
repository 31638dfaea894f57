/** Every command, in the order `--help` lists them. */
import type { CommandDef } from './args.js';
import { initCommand } from './init.js';
import { renderCommand } from './render.js';

export const commands: CommandDef[] = [initCommand, renderCommand];

export function findCommand(name: string): CommandDef | undefined {
  return commands.find((c) => c.name === name);
}
