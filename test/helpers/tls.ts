// Moved to src/cluster/local/ (the local cluster and the bench start the same engines).
export * from '../../src/cluster/local/tls.js';
