export * from './schema.js';
export * from './defaults.js';
export * from './errors.js';
export * from './hosts.js';
export * from './ip.js';
export * from './load.js';
export * from './validate.js';
