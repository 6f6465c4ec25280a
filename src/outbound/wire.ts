// A fetch as it crosses from the isolate to the daemon and back: plain data.

export interface WireRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array | null;
  redirect: 'follow' | 'error' | 'manual';
}

export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  url: string;
  redirected: boolean;
  body: Uint8Array;
}

/** Carries one execution's fetches to whoever performs them. Rejections carry a message for the script. */
export interface FetchRelay {
  fetch(fetchId: number, request: WireRequest): Promise<WireResponse>;
  abort(fetchId: number): void;
}

/** A fetch the policy or a limit refused, or that failed; its message is shown to the script as a TypeError. */
export class FetchFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FetchFailure';
  }
}
