/** Types of web/stage-client.js for the TypeScript web app. */
export declare const SLOTS: number;
export interface StageClientOptions {
  token: string;
  spaceId: string;
  server?: string;
  microphone?: () => Promise<MediaStream>;
  audioParent?: HTMLElement;
  iceServers?: RTCIceServer[];
}
export declare class StageClient extends EventTarget {
  constructor(options: StageClientOptions);
  state: 'idle' | 'connecting' | 'waiting' | 'publishing' | 'live' | 'reconnecting' | 'closed';
  identity: string | undefined;
  role: string | undefined;
  microphone: MediaStream | undefined;
  start(): Promise<void>;
  close(): void;
  setMuted(muted: boolean): Promise<void>;
}
