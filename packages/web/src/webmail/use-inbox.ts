import { PnsClient, type PnsMessage, type PnsStatus } from '@pns/client';
import { isMailData, type Mail, newMailType } from '@pns/protocol';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from '../shared/http.js';
import { loadInbox } from './api.js';
import type { DemoSession } from './session.js';

export interface InboxState {
  /** Newest first. */
  mails: Mail[];
  loading: boolean;
  status: PnsStatus;
  /** The transport of this tab's connection; empty while another tab polls for this one. */
  transport: string;
  error: string | null;
}

/** Adds what is new, newest first; a mail already listed stays as it is. */
function merge(current: Mail[], incoming: Mail[]): Mail[] {
  const known = new Set(current.map((mail) => mail.id));
  const added = incoming.filter((mail) => !known.has(mail.id));
  return added.length === 0 ? current : [...current, ...added].sort((a, b) => b.sentAt - a.sentAt);
}

function mailFrom(message: PnsMessage): Mail | undefined {
  return message.type === newMailType && isMailData(message.data) ? { ...message.data, id: message.id } : undefined;
}

/**
 * Loads the inbox, then listens for new mail from the inbox's cursor on, so nothing sent between the load and
 * the first push is lost or shown twice. `onNewMail` is called once per pushed mail that was not listed yet.
 * `attempt` restarts everything when it changes (the error banner's "Try again").
 */
export function useInbox(session: DemoSession, attempt: number, onNewMail: (mail: Mail) => void): InboxState {
  const [mails, setMails] = useState<Mail[]>([]);
  const [loading, setLoading] = useState(true);
  const [status, setStatus] = useState<PnsStatus>('idle');
  const [transport, setTransport] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Kept in a ref so a new callback on each render does not restart the client.
  const notify = useRef(onNewMail);
  notify.current = onNewMail;

  useEffect(() => {
    let active = true;
    const listed = new Set<string>();
    const client = new PnsClient({ url: location.origin, sid: session.pushToken(), share: true });

    const reload = async (): Promise<string> => {
      const answer = await session.authorized(loadInbox);
      if (active) {
        const mails = answer.mails.filter((mail) => isMailData(mail));
        for (const mail of mails) listed.add(mail.id);
        setMails((current) => merge(current, mails));
      }
      return answer.cursor;
    };
    const fail = (prefix: string) => (reason: unknown) => {
      if (active) setError(`${prefix}: ${errorText(reason)}`);
    };

    client.on('message', (message) => {
      const mail = mailFrom(message);
      if (!mail || listed.has(mail.id)) return;
      listed.add(mail.id);
      setMails((current) => merge(current, [mail]));
      notify.current(mail);
    });
    // Messages may have been missed: the demo backend has the whole inbox.
    client.on('gap', () => {
      reload().catch(fail('Could not reload the inbox'));
    });
    client.on('status', (next) => {
      // A follower sees only what the leading tab receives after it joined, not from this tab's cursor:
      // reading the inbox again picks up what arrived in between (listed ids keep it from showing twice).
      if (next === 'following') reload().catch(fail('Could not reload the inbox'));
      setStatus(next);
      setTransport(client.transport ?? '');
    });
    client.on('transport', setTransport);
    client.on('sessionExpired', () => setError('Your session has expired: sign out and sign in again.'));
    client.on('error', (reason) => setError(`New mail is no longer pushed: ${reason.message} (${reason.code})`));

    setMails([]);
    setLoading(true);
    setError(null);
    const begin = async () => {
      let cursor: string;
      try {
        cursor = await reload();
      } catch (reason) {
        fail('Could not load the inbox')(reason);
        return;
      } finally {
        if (active) setLoading(false);
      }
      if (active) await client.start(cursor).catch(fail('Could not connect for new mail'));
    };
    void begin();

    return () => {
      active = false;
      client.stop();
    };
  }, [session, attempt]);

  return { mails, loading, status, transport, error };
}
