import type { DemoUser } from '@pns/protocol';
import { Avatar } from './avatar.js';
import { ErrorBanner } from './error-banner.js';
import { Brand } from './top-bar.js';

interface SignInProps {
  users: DemoUser[] | undefined;
  /** The user being signed in, while the session request is under way. */
  pending: string | null;
  error: string | null;
  onRetry: () => void;
  onSignIn: (userId: string) => void;
}

/** The demo has no passwords: pick who to be. */
export function SignIn({ users, pending, error, onRetry, onSignIn }: SignInProps) {
  return (
    <div class="sign-in-page">
      <div class="sign-in-card">
        <Brand />
        <h1>Sign in</h1>
        <p class="muted">Choose a demo user. Open another window as someone else and send mail between them.</p>
        {error && <ErrorBanner message={error} action={users ? undefined : { label: 'Try again', run: onRetry }} />}
        {!users && !error && <p class="muted">Loading users…</p>}
        <ul class="sign-in-users">
          {users?.map((user) => (
            <li key={user.id}>
              <button
                type="button"
                class="sign-in-user"
                data-testid={`sign-in-${user.id}`}
                disabled={pending !== null}
                onClick={() => onSignIn(user.id)}
              >
                <Avatar user={user} size={40} />
                <span class="sign-in-text">
                  <span class="sign-in-name">{user.name}</span>
                  <span class="muted">{user.email}</span>
                </span>
                <span class="sign-in-go">{pending === user.id ? 'Signing in…' : 'Sign in →'}</span>
              </button>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
