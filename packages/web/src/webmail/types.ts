// The demo's wire types, shared with its backend through the protocol package.
export { type DemoUser, isMailData, type Mail, type MailData, newMailType } from '@pns/protocol';
