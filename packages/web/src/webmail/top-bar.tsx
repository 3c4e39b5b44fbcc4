import type { PnsStatus } from '@pns/client';
import type { DemoUser } from '@pns/protocol';
import { Avatar } from './avatar.js';
import { ConnectionIndicator } from './connection.js';
import { EnvelopeIcon } from './icons.js';

export function Brand() {
  return (
    <span class="brand">
      <span class="brand-mark">
        <EnvelopeIcon size={18} />
      </span>
      pns mail
    </span>
  );
}

interface TopBarProps {
  user: DemoUser;
  status: PnsStatus;
  transport: string;
  onSignOut: () => void;
}

export function TopBar({ user, status, transport, onSignOut }: TopBarProps) {
  return (
    <header class="top-bar">
      <Brand />
      <ConnectionIndicator status={status} transport={transport} />
      <div class="account">
        <Avatar user={user} size={30} />
        <div class="account-text">
          <span class="account-name" data-testid="current-user">
            {user.name}
          </span>
          <span class="account-email">{user.email}</span>
        </div>
        <button type="button" class="button button-quiet" data-testid="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}
