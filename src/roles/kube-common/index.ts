/** Shared helpers of the Kubernetes roles (kube-master, kube-worker, kubectl, addons). */
export * from './paths.js';
export * from './render.js';
export * from './kubeconfig.js';
export * from './artifacts.js';
export * from './cluster.js';
export * from '../pki/read.js';
