export interface DemoUser {
  id: string;
  name: string;
  email: string;
}

export interface Mail {
  id: string;
  from: DemoUser;
  /** The recipient's user id. */
  to: string;
  subject: string;
  body: string;
  /** Epoch milliseconds. */
  sentAt: number;
}

/** The `data` of a type-70 push message: the mail without its id (the message id is the mail id). */
export type MailData = Omit<Mail, 'id'>;

/** pns message type for "new mail", as in the original webmail. */
export const newMailType = 70;

function isUser(value: unknown): value is DemoUser {
  if (typeof value !== 'object' || value === null) return false;
  const user = value as Partial<DemoUser>;
  return typeof user.id === 'string' && typeof user.name === 'string' && typeof user.email === 'string';
}

/** Pushed data comes from whoever may publish: check its shape before it reaches the screen. */
export function isMailData(value: unknown): value is MailData {
  if (typeof value !== 'object' || value === null) return false;
  const data = value as Partial<MailData>;
  return (
    isUser(data.from) &&
    typeof data.to === 'string' &&
    typeof data.subject === 'string' &&
    typeof data.body === 'string' &&
    typeof data.sentAt === 'number'
  );
}
