/** The one nunjucks environment: templates/ at the package root, strict about undefined variables. */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type nunjucks from 'nunjucks';

/** templates/ sits two levels above this file both in src/render (tests) and dist/render (built). */
export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates');

/**
 * nunjucks is loaded at the first render, not with this module: `test` renders nothing, and converge's first
 * render comes after every host's SSH handshake has started, so its loading (~190 KB of JavaScript, 15–25 ms
 * here) overlaps the hosts' side of the handshakes instead of delaying them. require(), not import(): every
 * caller renders synchronously. In the bundle it stays a package of its own (scripts/build.mjs: external), resolved from the package root
 * (beside templates/), so a bundle built into another folder finds it too.
 */
const loadNunjucks = (): typeof nunjucks => createRequire(path.join(TEMPLATES_DIR, '..', 'package.json'))('nunjucks') as typeof nunjucks;

let env: nunjucks.Environment | undefined;

export function templateEnv(): nunjucks.Environment {
  if (!env) {
    const nunjucks = loadNunjucks();
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: the loader's cache changes how often a template is read, never what it renders
    env = new nunjucks.Environment(new nunjucks.FileSystemLoader(TEMPLATES_DIR, { noCache: false }), {
      autoescape: false, // we render config files and Ruby, never HTML
      throwOnUndefined: true, // a missing variable is a bug, not an empty string in a unit file
      trimBlocks: true,
      lstripBlocks: true,
    });
    // Quote a value for Ruby / INI / shell-ish contexts where a JSON string literal is valid.
    env.addFilter('q', (v: unknown) => JSON.stringify(String(v)));
  }
  return env;
}

export function renderTemplate(name: string, context: object): string {
  return templateEnv().render(name, context);
}
