/** What the route plugins need; assembled once by the composition root (server.ts). */

import type { AudienceService } from '../audience/audience-service.js';
import type { InviteTags } from '../audience/invite-tags.js';
import type { ProofOfWork } from '../audience/proof-of-work.js';
import type { StateDocuments } from '../audience/state-document.js';
import type { WaitingRoom } from '../audience/waiting-room.js';
import type { Broadcaster } from '../broadcast/broadcaster.js';
import type { ReplayCounter } from '../broadcast/replay-counter.js';
import type { EngineStatus } from '../cluster/engine-health.js';
import type { NodeInfo } from '../cluster/node-identity.js';
import type { Ownership } from '../cluster/ownership.js';
import type { Credentials } from '../control/credentials.js';
import type { SpaceService } from '../control/space-service.js';
import type { StageService } from '../control/stage-service.js';
import type { TokenAuthority } from '../control/tokens.js';
import type { WebhookStore } from '../webhooks/webhook-store.js';
import type { Metrics } from './metrics.js';
import type { Urls } from './urls.js';

export interface ApiDeps {
  spaces: SpaceService;
  stage: StageService;
  audience: AudienceService;
  states: StateDocuments;
  /** Invitations to the stage as tags: listed publicly, each listener told its own (invite-tags.ts). */
  inviteTags: InviteTags;
  /** The live broadcasts and the recordings (LL-HLS, replay, feeds). */
  broadcaster: Broadcaster;
  tokens: TokenAuthority;
  credentials: Credentials;
  urls: Urls;
  metrics: Metrics;
  /** The waiting room, when joins are limited (ROSTRUM_ADMISSION_RATE, ROSTRUM_LISTENER_CAPACITY). */
  waitingRoom: WaitingRoom | undefined;
  /** The join path's proof of work (on under attack, or by the operator). */
  pow: ProofOfWork;
  /** The operator's webhook endpoints and their deliveries (webhooks/webhook-store.ts). */
  webhooks: WebhookStore;
  /** Counts the replay's plays and downloads (the host's analytics). */
  replays: ReplayCounter;
  /** Has this node's delivery worker look for due deliveries now. */
  nudgeWebhooks: () => void;
  /** Which node runs each space (this one on the embedded default). */
  ownership: Ownership;
  /** Resolves when every dependency answers; rejects with the reason otherwise. */
  checkReady: () => Promise<void>;
  /** This node, what each interface runs on, and whether each engine answers (/readyz). */
  cluster: () => { node: NodeInfo; implementations: Record<string, string>; engines: EngineStatus[] };
}
