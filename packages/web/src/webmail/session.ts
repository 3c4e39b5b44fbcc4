import type { DemoUser } from '@pns/protocol';
import { ApiError } from '../shared/http.js';
import { createSession, type SessionAnswer } from './api.js';

/** Renew a little before expiry, so a request never leaves with a token that dies on the way. */
const renewMarginMs = 10_000;

/**
 * The signed-in user's token, shared by the demo API calls and the push client, renewed by asking for a new
 * session (the demo has no passwords).
 */
export class DemoSession {
  readonly user: DemoUser;
  private sid: string;
  private expiresAt: number;
  private renewal: Promise<string> | undefined;

  constructor(answer: SessionAnswer) {
    this.user = answer.user;
    this.sid = answer.sid;
    this.expiresAt = answer.expiresAt;
  }

  static async open(userId: string): Promise<DemoSession> {
    return new DemoSession(await createSession(userId));
  }

  /** A token that is not about to expire. */
  current(): Promise<string> {
    return Date.now() < this.expiresAt - renewMarginMs ? Promise.resolve(this.sid) : this.renew();
  }

  /** A new token, whatever the state of the old one; concurrent callers share one request. */
  renew(): Promise<string> {
    this.renewal ??= createSession(this.user.id)
      .then((answer) => {
        this.sid = answer.sid;
        this.expiresAt = answer.expiresAt;
        return answer.sid;
      })
      .finally(() => {
        this.renewal = undefined;
      });
    return this.renewal;
  }

  /** Runs a request with the token, and once more with a fresh one if the server says it is no longer valid. */
  async authorized<T>(request: (sid: string) => Promise<T>): Promise<T> {
    try {
      return await request(await this.current());
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      return request(await this.renew());
    }
  }

  /**
   * For PnsClient's `sid` option: the current token at start, a fresh one whenever the client asks again
   * (it only does after the server refused the token).
   */
  pushToken(): () => Promise<string> {
    let first = true;
    return () => {
      if (!first) return this.renew();
      first = false;
      return this.current();
    };
  }
}
