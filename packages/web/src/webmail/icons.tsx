import { Icon, type IconProps } from '../shared/icon.js';

export function EnvelopeIcon({ size }: IconProps) {
  return (
    <Icon size={size}>
      <rect x="3" y="5" width="18" height="14" rx="2" />
      <path d="m3 7 9 6 9-6" />
    </Icon>
  );
}

export function InboxIcon({ size }: IconProps) {
  return (
    <Icon size={size}>
      <path d="M3 13h5l2 3h4l2-3h5" />
      <path d="M5 5h14l2 8v6H3v-6z" />
    </Icon>
  );
}

export function PenIcon({ size }: IconProps) {
  return (
    <Icon size={size}>
      <path d="M4 20h4L19 9l-4-4L4 16z" />
      <path d="m13.5 6.5 4 4" />
    </Icon>
  );
}

export function BellIcon({ size }: IconProps) {
  return (
    <Icon size={size}>
      <path d="M6 16V11a6 6 0 0 1 12 0v5l2 2H4z" />
      <path d="M10 21h4" />
    </Icon>
  );
}
