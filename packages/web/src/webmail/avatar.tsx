import type { DemoUser } from '@pns/protocol';
import { avatarColour, initials } from './format.js';

export function Avatar({ user, size = 36 }: { user: DemoUser; size?: number }) {
  return (
    <span
      class="avatar"
      style={{ width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.4)}px`, background: avatarColour(user) }}
      aria-hidden="true"
    >
      {initials(user)}
    </span>
  );
}
