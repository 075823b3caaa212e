/**
 * The absolute URLs Rostrum hands out. The base is ROSTRUM_PUBLIC_URL when set, else the address the
 * server listens on (known once it listens) — never the request's Host header, which a client
 * controls and which would poison a shared cache.
 */
import type { SpaceId } from '../ids.js';

export class Urls {
  private baseUrl: string;

  constructor(publicUrl: string | undefined) {
    this.baseUrl = (publicUrl ?? 'http://127.0.0.1').replace(/\/+$/, '');
    this.fixed = publicUrl !== undefined;
  }

  private readonly fixed: boolean;

  /** Called once the server listens; ignored when a public URL was configured. */
  listeningAt(address: string): void {
    if (!this.fixed) this.baseUrl = address.replace(/\/+$/, '');
  }

  get base(): string {
    return this.baseUrl;
  }

  /** The share link: the web page for everyone. */
  page(id: SpaceId): string {
    return `${this.baseUrl}/s/${id}`;
  }

  state(id: SpaceId): string {
    return `${this.baseUrl}/api/spaces/${id}/state`;
  }

  join(id: SpaceId): string {
    return `${this.baseUrl}/api/spaces/${id}/join`;
  }

  heartbeat(id: SpaceId): string {
    return `${this.baseUrl}/api/spaces/${id}/heartbeat`;
  }

  reactions(id: SpaceId): string {
    return `${this.baseUrl}/api/spaces/${id}/reactions`;
  }

  /** The LL-HLS playlist of the broadcast (served by the broadcast plane); VOD once the space ended. */
  playlist(id: SpaceId): string {
    return `${this.baseUrl}/hls/${id}/index.m3u8`;
  }

  /** The same broadcast as whole segments only, for players without LL-HLS. */
  plainPlaylist(id: SpaceId): string {
    return `${this.baseUrl}/hls/${id}/plain.m3u8`;
  }

  recording(id: SpaceId): string {
    return `${this.baseUrl}/api/spaces/${id}/recording.m4a`;
  }

  /** A host's podcast feed. */
  feed(hostIdentity: string): string {
    return `${this.baseUrl}/feeds/${hostIdentity}.rss`;
  }

  /** The artwork Rostrum draws for a host's feed (when the host set none). */
  artwork(hostIdentity: string): string {
    return `${this.baseUrl}/feeds/${hostIdentity}.png`;
  }
}
