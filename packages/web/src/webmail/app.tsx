import type { DemoUser } from '@pns/protocol';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { errorText } from '../shared/http.js';
import { readItem, writeItem } from '../shared/storage.js';
import { listUsers } from './api.js';
import { Mailbox } from './mailbox.js';
import { DemoSession } from './session.js';
import { SignIn } from './sign-in.js';

/** Remembers who is signed in in this tab, so a reload stays signed in. */
const userKey = 'pns-demo-user';
const noUsers: DemoUser[] = [];

export function App() {
  const [users, setUsers] = useState<DemoUser[] | undefined>();
  const [session, setSession] = useState<DemoSession | null>(null);
  const [pending, setPending] = useState<string | null>(null);
  // On load, the remembered user is signed in again: no sign-in screen flashes meanwhile.
  const [restoring, setRestoring] = useState(() => readItem('session', userKey) !== null);
  const [error, setError] = useState<string | null>(null);

  const fetchUsers = useCallback(() => {
    setError(null);
    listUsers().then(setUsers, (reason: unknown) => setError(`Could not load the demo users: ${errorText(reason)}`));
  }, []);

  const signIn = useCallback(async (userId: string) => {
    setPending(userId);
    setError(null);
    try {
      const opened = await DemoSession.open(userId);
      writeItem('session', userKey, opened.user.id);
      setSession(opened);
    } catch (reason) {
      writeItem('session', userKey, null);
      setError(`Could not sign in: ${errorText(reason)}`);
    } finally {
      setPending(null);
      setRestoring(false);
    }
  }, []);

  useEffect(() => {
    fetchUsers();
    const remembered = readItem('session', userKey);
    if (remembered) void signIn(remembered);
  }, [fetchUsers, signIn]);

  const signOut = useCallback(() => {
    writeItem('session', userKey, null);
    setSession(null);
  }, []);

  if (session) return <Mailbox session={session} users={users ?? noUsers} onSignOut={signOut} />;
  if (restoring) return <div class="splash">Signing in…</div>;
  return <SignIn users={users} pending={pending} error={error} onRetry={fetchUsers} onSignIn={signIn} />;
}
