import type { Metafile } from 'esbuild';
export declare const ROOT: string;
/** Bundles src/cli.ts into `outdir` (default dist/cli, emptied first); returns esbuild's metafile. */
export declare function buildCli(outdir?: string): Promise<Metafile>;
