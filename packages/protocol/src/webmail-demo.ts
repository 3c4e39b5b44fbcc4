/** The seed webmail's message type for "new mail". */
export const newMailType = 70;

/** A user of the webmail demo (`GET /demo/api/users`). */
export interface DemoUser {
  /** What the demo calls the user; the pns user id is `demo-<id>`. */
  id: string;
  name: string;
  email: string;
}

/** A mail of the webmail demo; its id is the id of the message that carried it. */
export interface Mail {
  id: string;
  from: DemoUser;
  /** The recipient's demo user id. */
  to: string;
  subject: string;
  body: string;
  /** Epoch milliseconds. */
  sentAt: number;
}

/** The `data` of a type-70 message of the demo: the mail without its id. */
export type MailData = Omit<Mail, 'id'>;

function isDemoUser(value: unknown): value is DemoUser {
  if (typeof value !== 'object' || value === null) return false;
  const user = value as Partial<DemoUser>;
  return typeof user.id === 'string' && typeof user.name === 'string' && typeof user.email === 'string';
}

/** Whoever holds the publish key can send type 70 to a demo user: check the shape before anything shows it. */
export function isMailData(value: unknown): value is MailData {
  if (typeof value !== 'object' || value === null) return false;
  const data = value as Partial<MailData>;
  return (
    isDemoUser(data.from) &&
    typeof data.to === 'string' &&
    typeof data.subject === 'string' &&
    typeof data.body === 'string' &&
    typeof data.sentAt === 'number'
  );
}
