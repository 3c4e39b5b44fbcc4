import type { DemoUser, Mail } from '@pns/protocol';
import { Avatar } from './avatar.js';
import { fullDate } from './format.js';
import { EnvelopeIcon } from './icons.js';

export function ReadingPane({ mail, me }: { mail: Mail | undefined; me: DemoUser }) {
  if (!mail) {
    return (
      <article class="reading-pane reading-empty">
        <EnvelopeIcon size={40} />
        <p>Select a mail to read it.</p>
      </article>
    );
  }
  return (
    <article class="reading-pane" aria-label="Message">
      <h2 class="reading-subject">{mail.subject}</h2>
      <div class="reading-meta">
        <Avatar user={mail.from} size={40} />
        <div>
          <div class="reading-from">
            {mail.from.name} <span class="muted">&lt;{mail.from.email}&gt;</span>
          </div>
          <div class="muted">to {me.name}</div>
        </div>
        <time class="reading-date muted" dateTime={new Date(mail.sentAt).toISOString()}>
          {fullDate(mail.sentAt)}
        </time>
      </div>
      <div class="reading-body" data-testid="mail-body">
        {mail.body}
      </div>
    </article>
  );
}
