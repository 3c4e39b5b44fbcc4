import type { DemoUser } from '@pns/protocol';
import { InboxIcon, PenIcon } from './icons.js';
import { NotifyButton } from './notify.js';

interface SidebarProps {
  user: DemoUser;
  unread: number;
  onCompose: () => void;
}

/** The folder column: compose, the one folder the demo has, notifications and what the demo shows. */
export function Sidebar({ user, unread, onCompose }: SidebarProps) {
  return (
    <nav class="sidebar" aria-label="Folders">
      <button type="button" class="button button-primary compose-button" onClick={onCompose}>
        <PenIcon size={16} />
        Compose
      </button>
      <ul class="folders">
        <li class="folder folder-active" aria-current="page">
          <InboxIcon size={18} />
          <span class="folder-name">Inbox</span>
          <span class={unread > 0 ? 'badge' : 'badge badge-empty'} data-testid="unread-count" title={`${unread} unread`}>
            {unread}
          </span>
        </li>
      </ul>
      <NotifyButton />
      <p class="explainer">
        Mail sent here is pushed by pns as type 70 to the recipient's channel (<code>user:demo-&lt;id&gt;</code>, yours is{' '}
        <code>user:demo-{user.id}</code>); open a second window signed in as another user to see it arrive.
      </p>
    </nav>
  );
}
