export * from './env.js';
export * from './workspace.js';
