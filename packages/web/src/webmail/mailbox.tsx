import type { DemoUser, Mail } from '@pns/protocol';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { Compose } from './compose.js';
import { ErrorBanner } from './error-banner.js';
import { pageTitle } from './format.js';
import { MailList } from './mail-list.js';
import { notifyNewMail } from './notify.js';
import { useReadIds } from './read-state.js';
import { ReadingPane } from './reading-pane.js';
import type { DemoSession } from './session.js';
import { Sidebar } from './sidebar.js';
import { Toasts, useToasts } from './toasts.js';
import { TopBar } from './top-bar.js';
import { useInbox } from './use-inbox.js';

interface MailboxProps {
  session: DemoSession;
  users: DemoUser[];
  onSignOut: () => void;
}

/** The signed-in page: folders, mail list, reading pane and compose, fed by the push client. */
export function Mailbox({ session, users, onSignOut }: MailboxProps) {
  const user = session.user;
  const [toasts, showToast] = useToasts();
  const [read, markRead] = useReadIds(user.id);
  const [attempt, setAttempt] = useState(0);
  const inbox = useInbox(session, attempt, (mail) => {
    showToast(mail);
    notifyNewMail(mail);
  });
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const subjectRef = useRef<HTMLInputElement>(null);

  const unread = inbox.mails.reduce((count, mail) => (read.has(mail.id) ? count : count + 1), 0);
  // A layout effect: the tab title changes in the same frame as the counter on the page.
  useLayoutEffect(() => {
    document.title = pageTitle(user.name, unread);
  }, [user.name, unread]);
  useEffect(
    () => () => {
      document.title = 'pns mail';
    },
    [],
  );

  const open = (mail: Mail) => {
    setSelectedId(mail.id);
    markRead(mail.id);
  };
  // Reloads the inbox and reconnects; listed mails stay listed.
  const retry = inbox.loading ? undefined : { label: 'Try again', run: () => setAttempt((n) => n + 1) };

  return (
    <div class="app">
      <TopBar user={user} status={inbox.status} transport={inbox.transport} onSignOut={onSignOut} />
      {inbox.error && <ErrorBanner message={inbox.error} action={retry} />}
      <main class="layout">
        <Sidebar user={user} unread={unread} onCompose={() => subjectRef.current?.focus()} />
        <MailList mails={inbox.mails} loading={inbox.loading} read={read} selectedId={selectedId} onOpen={open} />
        <div class="reading-column">
          <ReadingPane mail={inbox.mails.find((mail) => mail.id === selectedId)} me={user} />
          <Compose session={session} users={users} subjectRef={subjectRef} />
        </div>
      </main>
      <Toasts toasts={toasts} />
    </div>
  );
}
