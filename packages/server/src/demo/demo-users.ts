import { type DemoUser, userChannel } from '@pns/protocol';

export const demoUsers: readonly DemoUser[] = [
  { id: 'alice', name: 'Alice', email: 'alice@demo.pns' },
  { id: 'bob', name: 'Bob', email: 'bob@demo.pns' },
  { id: 'carol', name: 'Carol', email: 'carol@demo.pns' },
  { id: 'dave', name: 'Dave', email: 'dave@demo.pns' },
];

/**
 * The pns user id of a demo user. The prefix keeps demo sessions apart from real users' channels should the
 * demo be switched on where real users exist.
 */
export function demoUserId(user: DemoUser): string {
  return `demo-${user.id}`;
}

export function demoUserChannel(user: DemoUser): string {
  return userChannel(demoUserId(user));
}

export function findDemoUser(id: string): DemoUser | undefined {
  return demoUsers.find((user) => user.id === id);
}

/** The demo user a session's pns user id belongs to. */
export function demoUserOfSession(userId: string): DemoUser | undefined {
  return demoUsers.find((user) => demoUserId(user) === userId);
}
