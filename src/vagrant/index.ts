export * from './parse.js';
export * from './process.js';
export * from './vagrant.js';
export * from './preflight.js';
export * from './box.js';
export * from './digests.js';
export * from './known-hosts.js';
export * from './lxc-bridge.js';
