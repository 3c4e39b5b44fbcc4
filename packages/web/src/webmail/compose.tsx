import type { DemoUser } from '@pns/protocol';
import type { Ref } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { errorText } from '../shared/http.js';
import { sendMail } from './api.js';
import { PenIcon } from './icons.js';
import type { DemoSession } from './session.js';

const maxSubject = 200;
const maxBody = 5000;

interface ComposeProps {
  session: DemoSession;
  users: DemoUser[];
  subjectRef: Ref<HTMLInputElement>;
}

type SendState = { kind: 'idle' } | { kind: 'sending' } | { kind: 'sent' } | { kind: 'failed'; message: string };

function statusText(state: SendState): string {
  if (state.kind === 'sending') return 'Sending…';
  if (state.kind === 'sent') return 'Sent';
  return state.kind === 'failed' ? state.message : '';
}

/** The compose panel: always on screen, so mail can go out while another is being read. */
export function Compose({ session, users, subjectRef }: ComposeProps) {
  const recipients = useMemo(() => users.filter((user) => user.id !== session.user.id), [users, session]);
  const [to, setTo] = useState('');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [state, setState] = useState<SendState>({ kind: 'idle' });

  // Pick the first other user once the list is known, and again if the chosen one is no longer in it.
  useEffect(() => {
    if (!recipients.some((user) => user.id === to)) setTo(recipients[0]?.id ?? '');
  }, [recipients, to]);

  const edited = () => {
    if (state.kind === 'sent' || state.kind === 'failed') setState({ kind: 'idle' });
  };

  const send = async (event: Event) => {
    event.preventDefault();
    if (state.kind === 'sending') return;
    if (!to) return setState({ kind: 'failed', message: 'Choose a recipient.' });
    if (!subject.trim()) return setState({ kind: 'failed', message: 'Write a subject.' });
    setState({ kind: 'sending' });
    try {
      await session.authorized((sid) => sendMail(sid, { to, subject, body }));
      setSubject('');
      setBody('');
      setState({ kind: 'sent' });
    } catch (error) {
      setState({ kind: 'failed', message: errorText(error, 'The mail could not be sent.') });
    }
  };

  return (
    <form class="compose" onSubmit={send} aria-label="New mail">
      <header class="compose-header">
        <PenIcon size={16} />
        New mail
      </header>
      <label class="field">
        <span class="field-label">To</span>
        <select
          data-testid="compose-to"
          value={to}
          onChange={(event) => {
            setTo(event.currentTarget.value);
            edited();
          }}
        >
          {recipients.map((user) => (
            <option key={user.id} value={user.id}>
              {user.name} &lt;{user.email}&gt;
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span class="field-label">Subject</span>
        <input
          ref={subjectRef}
          data-testid="compose-subject"
          type="text"
          required
          maxLength={maxSubject}
          value={subject}
          onInput={(event) => {
            setSubject(event.currentTarget.value);
            edited();
          }}
        />
      </label>
      <textarea
        class="compose-body"
        data-testid="compose-body"
        aria-label="Message"
        placeholder="Write your message…"
        maxLength={maxBody}
        value={body}
        onInput={(event) => {
          setBody(event.currentTarget.value);
          edited();
        }}
      />
      <footer class="compose-footer">
        <button type="submit" class="button button-primary" data-testid="compose-send" disabled={state.kind === 'sending'}>
          Send
        </button>
        <span class={`compose-status compose-status-${state.kind}`} data-testid="compose-status" role="status">
          {statusText(state)}
        </span>
      </footer>
    </form>
  );
}
