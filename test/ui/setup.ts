// ink-testing-library: with CI=true in the environment, lastFrame() is empty after unmount.
delete process.env.CI;

// Tests drive React through act(): updates outside it are bugs in the test (or the app), so the
// "not wrapped in act(...)" warning fails the test instead of scrolling by.
import { afterEach, beforeEach } from 'vitest';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let actWarnings: string[] = [];
const originalError = console.error;

beforeEach(() => {
  actWarnings = [];
  console.error = (...args: unknown[]) => {
    const text = args.map(String).join(' ');
    if (/not wrapped in act|act\(\.\.\.\)|the current testing environment is not configured to support act/i.test(text)) actWarnings.push(text);
    originalError(...args);
  };
});

afterEach(() => {
  console.error = originalError;
  if (actWarnings.length > 0) throw new Error(`React act() warnings:\n${actWarnings.join('\n')}`);
});
