// The webmail demo in real Chromium against `pns serve` in dev mode (what `npm start` runs): users in separate
// windows, a mail sent by one reaching another's inbox at once, and no one else's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browserSkipReason } from '@pns/test-support';
import type { BrowserContext, Page } from 'playwright-core';
import { pageSuite, screenshot, startDevPns } from './support/pages.js';

const browserSkip = browserSkipReason();

describe('webmail demo in Chromium', { skip: browserSkip, timeout: 120_000 }, () => {
  const suite = pageSuite(startDevPns);

  /** A window of its own (separate storage: another person at another computer). */
  const newWindow = (): Promise<BrowserContext> => suite.newContext({ width: 1280, height: 800 });

  async function signedIn(user: string, context?: BrowserContext): Promise<Page> {
    const page = await (context ?? (await newWindow())).newPage();
    await page.goto(`${suite.servers.url}/`);
    await page.getByTestId(`sign-in-${user}`).click();
    await page.getByTestId('current-user').waitFor();
    await page.getByTestId('inbox').waitFor();
    return page;
  }

  /** Long polls, SSE streams and WebSockets pns holds now, from the dashboard's stats. */
  async function held(): Promise<number> {
    const stats = (await (await fetch(`${suite.servers.url}/pns/admin/stats`)).json()) as { nodes: { held: Record<string, number> }[] };
    const node = stats.nodes[0];
    return node ? Object.values(node.held).reduce((sum, count) => sum + count, 0) : 0;
  }

  async function waitForHeld(count: number): Promise<void> {
    const deadline = Date.now() + 15_000;
    while ((await held()) < count) {
      if (Date.now() > deadline) throw new Error(`pns never held ${count} connections`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  const mails = (page: Page) => page.getByTestId('inbox').getByTestId('mail');
  const unread = async (page: Page): Promise<string> => ((await page.getByTestId('unread-count').textContent()) ?? '').trim();

  async function send(page: Page, to: string, subject: string, body: string): Promise<void> {
    await page.getByTestId('compose-to').selectOption(to);
    await page.getByTestId('compose-subject').fill(subject);
    await page.getByTestId('compose-body').fill(body);
    await page.getByTestId('compose-send').click();
    await page.getByTestId('compose-status').filter({ hasText: 'Sent' }).waitFor({ timeout: 5000 });
  }

  it("delivers a mail to the recipient's inbox at once, unread, with a toast and the count in the title; no one else gets it", async () => {
    const alice = await signedIn('alice');
    const bob = await signedIn('bob');
    const carol = await signedIn('carol');
    await waitForHeld(3);
    assert.equal(await unread(bob), '0');
    assert.equal(await bob.title(), 'Inbox — Bob — pns mail');

    const sentAt = Date.now();
    await send(alice, 'bob', 'Quarterly report', 'The numbers are in: see the attached summary.');
    await mails(bob).filter({ hasText: 'Quarterly report' }).waitFor({ timeout: 5000 });
    const deliveredMs = Date.now() - sentAt;
    const mail = mails(bob).first();
    assert.equal(await mail.getAttribute('data-unread'), 'true');
    assert.equal(((await mail.getByTestId('mail-from').textContent()) ?? '').trim(), 'Alice');
    assert.equal(await unread(bob), '1');
    assert.equal(await bob.title(), '(1) Inbox — Bob — pns mail');
    await bob.getByTestId('toasts').getByTestId('toast').filter({ hasText: 'Quarterly report' }).waitFor({ timeout: 2000 });

    // Two more, from others, for a fuller inbox (and the screenshot).
    await send(carol, 'bob', 'Lunch on Friday?', 'The new place on the corner opens at noon.');
    await send(alice, 'bob', 'Re: Design review', 'Moved to Thursday 3 pm, same room.');
    await mails(bob).nth(2).waitFor({ timeout: 5000 });
    assert.equal(await unread(bob), '3');
    assert.equal(await bob.title(), '(3) Inbox — Bob — pns mail');
    await screenshot(bob, 'webmail');

    // Isolation: Carol and Alice received nothing, though they are connected and one of them sent.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const page of [alice, carol]) {
      assert.equal(await mails(page).count(), 0);
      assert.equal(await unread(page), '0');
      assert.equal(await page.getByTestId('toasts').getByTestId('toast').count(), 0);
    }

    // Opening a mail reads it: the counters follow.
    await mails(bob).filter({ hasText: 'Quarterly report' }).click();
    await bob.getByTestId('mail-body').filter({ hasText: 'The numbers are in' }).waitFor();
    assert.equal(await unread(bob), '2');
    assert.equal(await bob.title(), '(2) Inbox — Bob — pns mail');
    await screenshot(bob, 'webmail-reading');
    process.stdout.write(`# mail reached the other window ${deliveredMs} ms after Send was clicked\n`);
  });

  it('keeps the inbox and what was read across a reload, and misses a mail sent between the inbox read and the push', async () => {
    const dave = await signedIn('dave');
    const alice = await signedIn('alice');
    await send(alice, 'dave', 'Before the reload', 'one');
    await mails(dave).filter({ hasText: 'Before the reload' }).click();
    assert.equal(await unread(dave), '0');
    // The reloaded page gets its inbox only after another mail was sent: that mail is after the inbox's cursor,
    // and only the push client started from that cursor can bring it.
    let inboxAnswered = false;
    await dave.route('**/demo/api/inbox', async (route) => {
      const answer = await route.fetch();
      // The first inbox read only (the page may read it again, e.g. while it follows another tab).
      if (!inboxAnswered) await send(alice, 'dave', 'Between inbox and push', 'two');
      inboxAnswered = true;
      await route.fulfill({ response: answer });
    });
    await dave.reload();
    await mails(dave).filter({ hasText: 'Between inbox and push' }).waitFor({ timeout: 10_000 });
    assert.ok(inboxAnswered);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(
      (await mails(dave).getByTestId('mail-subject').allTextContents()).map((text) => text.trim()),
      ['Between inbox and push', 'Before the reload'],
    );
    assert.equal(await mails(dave).filter({ hasText: 'Before the reload' }).getAttribute('data-unread'), 'false');
    assert.equal(await unread(dave), '1');
    await dave.unroute('**/demo/api/inbox');
  });

  it('in tabs of one browser: each user gets their own mail, and a second tab of a user gets it too', async () => {
    const browserWindow = await newWindow();
    const [bobFirst, bobSecond, carol] = [
      await signedIn('bob', browserWindow),
      await signedIn('bob', browserWindow),
      await signedIn('carol', browserWindow),
    ];
    const dave = await signedIn('dave');
    // One of Bob's tabs holds the connection; the other follows it.
    const following = '[data-testid="connection"][data-status="following"]';
    await Promise.any([bobFirst, bobSecond].map((page) => page.locator(following).waitFor({ timeout: 10_000 })));
    await send(dave, 'bob', 'To both tabs', 'shared');
    await send(dave, 'carol', 'To Carol only', 'own');
    for (const page of [bobFirst, bobSecond]) await mails(page).filter({ hasText: 'To both tabs' }).waitFor({ timeout: 5000 });
    await mails(carol).filter({ hasText: 'To Carol only' }).waitFor({ timeout: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const page of [bobFirst, bobSecond]) assert.equal(await mails(page).filter({ hasText: 'To Carol only' }).count(), 0);
    assert.equal(await mails(carol).filter({ hasText: 'To both tabs' }).count(), 0);
  });

  it('shows a desktop notification for a mail that arrives while the tab is hidden, once the user allowed them', async () => {
    const context = await newWindow();
    // Records each notification the page shows, and lets the test hide the tab (headless tabs are never hidden).
    await context.addInitScript(() => {
      const state = window as unknown as { pnsHidden: boolean; pnsShown: string[] };
      state.pnsHidden = false;
      state.pnsShown = [];
      Object.defineProperty(document, 'visibilityState', { get: () => (state.pnsHidden ? 'hidden' : 'visible') });
      const Shown = class extends window.Notification {
        constructor(title: string, options?: NotificationOptions) {
          state.pnsShown.push(`${title}: ${options?.body}`);
          super(title, options);
        }
      };
      window.Notification = Shown;
    });
    const carol = await signedIn('carol', context);
    const alice = await signedIn('alice');
    const enable = carol.getByRole('button', { name: 'Enable desktop notifications' });
    await enable.waitFor();
    await context.grantPermissions(['notifications'], { origin: suite.servers.url });
    await enable.click();
    await enable.waitFor({ state: 'detached' });
    const shown = (): Promise<string[]> => carol.evaluate(() => (window as unknown as { pnsShown: string[] }).pnsShown);

    await send(alice, 'carol', 'While you look', 'visible');
    await mails(carol).filter({ hasText: 'While you look' }).waitFor({ timeout: 5000 });
    assert.deepEqual(await shown(), [], 'a visible tab shows a toast, not a notification');
    await carol.evaluate(() => {
      (window as unknown as { pnsHidden: boolean }).pnsHidden = true;
    });
    await send(alice, 'carol', 'While you are away', 'hidden');
    await mails(carol).filter({ hasText: 'While you are away' }).waitFor({ timeout: 5000 });
    assert.deepEqual(await shown(), ['New mail from Alice: While you are away']);
  });
});
