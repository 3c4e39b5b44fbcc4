import type { DemoUser, Mail } from '@pns/protocol';
import { requestJson } from '../shared/http.js';

// The demo backend's JSON API, served next to pns on the same origin.

export interface SessionAnswer {
  user: DemoUser;
  /** The pns session token, also accepted by the demo API. */
  sid: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export interface InboxAnswer {
  /** Newest first. */
  mails: Mail[];
  /** The pns position right after these mails: the push client starts there. */
  cursor: string;
}

export async function listUsers(): Promise<DemoUser[]> {
  const answer = await requestJson<{ users: DemoUser[] }>('/demo/api/users');
  return answer.users;
}

export function createSession(userId: string): Promise<SessionAnswer> {
  return requestJson<SessionAnswer>('/demo/api/session', { method: 'POST', body: { user: userId } });
}

export function loadInbox(sid: string): Promise<InboxAnswer> {
  return requestJson<InboxAnswer>('/demo/api/inbox', { token: sid });
}

export interface OutgoingMail {
  to: string;
  subject: string;
  body: string;
}

export function sendMail(sid: string, mail: OutgoingMail): Promise<{ id: string }> {
  return requestJson<{ id: string }>('/demo/api/mail', { method: 'POST', token: sid, body: mail });
}
