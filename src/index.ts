/** The package's public API: mint tokens and verify webhooks from an operator's backend, or embed the server. */

export { type Config, loadConfig } from './config.js';
export type { Role, SpaceState } from './control/model.js';
export { type CreateTokenOptions, createToken, type TokenClaims } from './control/tokens.js';
export { type RostrumServer, startServer } from './server.js';
export { WEBHOOK_EVENTS, type WebhookEventType } from './webhooks/events.js';
export { verifyWebhook, WebhookVerificationError } from './webhooks/signature.js';
