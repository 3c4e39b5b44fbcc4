import type { Mail } from '@pns/protocol';
import { Avatar } from './avatar.js';
import { shortDate } from './format.js';

interface MailListProps {
  mails: Mail[];
  loading: boolean;
  read: ReadonlySet<string>;
  selectedId: string | null;
  onOpen: (mail: Mail) => void;
}

/** A line of the body under the subject, as mail clients preview it. */
function snippet(body: string): string {
  return body.replace(/\s+/g, ' ').trim().slice(0, 140);
}

export function MailList({ mails, loading, read, selectedId, onOpen }: MailListProps) {
  return (
    <section class="mail-list" aria-label="Inbox">
      <header class="pane-header">
        <h1>Inbox</h1>
        <span class="pane-count">{loading ? 'Loading…' : `${mails.length} ${mails.length === 1 ? 'mail' : 'mails'}`}</span>
      </header>
      {!loading && mails.length === 0 && <p class="empty">No mail yet. Send one from another window.</p>}
      <ul class="mails" data-testid="inbox">
        {mails.map((mail) => {
          const unread = !read.has(mail.id);
          const classes = ['mail', unread ? 'mail-unread' : '', mail.id === selectedId ? 'mail-selected' : ''].filter(Boolean).join(' ');
          return (
            <li key={mail.id} class={classes} data-testid="mail" data-mail-id={mail.id} data-unread={String(unread)}>
              <button type="button" class="mail-button" onClick={() => onOpen(mail)} aria-current={mail.id === selectedId}>
                <Avatar user={mail.from} />
                <span class="mail-text">
                  <span class="mail-line">
                    <span class="mail-from" data-testid="mail-from">
                      {mail.from.name}
                    </span>
                    <time class="mail-date" dateTime={new Date(mail.sentAt).toISOString()}>
                      {shortDate(mail.sentAt)}
                    </time>
                  </span>
                  <span class="mail-subject" data-testid="mail-subject">
                    {mail.subject}
                  </span>
                  <span class="mail-snippet">{snippet(mail.body)}</span>
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
