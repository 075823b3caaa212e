/** The package's public API: mint tokens from an operator's backend, or embed the server. */

export { type Config, loadConfig } from './config.js';
export type { Role, SpaceState } from './control/model.js';
export { type CreateTokenOptions, createToken, type TokenClaims } from './control/tokens.js';
export { type RostrumServer, startServer } from './server.js';
