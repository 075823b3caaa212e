/**
 * Who is invited to the stage, without saying who (issue 25). The state document is public and
 * cached by every edge; it listed invited listeners' identities, which for an operator's named
 * users (an e-mail, an account id) told the world whom the host had invited. It now lists a tag per
 * invitation — HMAC-SHA256 over the space and the identity, under a key derived from the API secret,
 * cut to 16 bytes (base64url) — and each listener learns its own tag privately: in its join answer
 * (`inviteTag`), or from GET /api/spaces/:id/invite-tag with its token. A page shows the invitation
 * when its tag is listed. Nobody without the key can tell whose tag is whose, or test a guess.
 *
 * Joins are the hot path: the tags of one space share their prefix, so each is signed from a kept
 * hash state (prefixed-hmac.ts: ~1 µs), as listener tokens are.
 */
import { type Credentials, deriveSecret } from '../control/credentials.js';
import { PrefixedHmac } from '../control/prefixed-hmac.js';
import type { SpaceId } from '../ids.js';

/** Spaces whose signer is kept (the busiest ones; the oldest made is let go first). */
const SIGNERS_KEPT = 1024;
/** base64url characters of a tag: 16 bytes of the MAC. */
const TAG_CHARS = 22;

export class InviteTags {
  private readonly key: Buffer;
  private readonly signers = new Map<SpaceId, PrefixedHmac>();

  constructor(credentials: Credentials) {
    this.key = deriveSecret(credentials, 'rostrum invite tags');
  }

  /** The tag of `identity`'s invitation to the stage of `spaceId`. */
  tag(spaceId: SpaceId, identity: string): string {
    let signer = this.signers.get(spaceId);
    if (!signer) {
      signer = new PrefixedHmac(this.key, `${spaceId}\n`, 256);
      this.signers.set(spaceId, signer);
      if (this.signers.size > SIGNERS_KEPT) this.signers.delete(this.signers.keys().next().value as SpaceId);
    }
    return signer.sign(identity).slice(0, TAG_CHARS);
  }
}
