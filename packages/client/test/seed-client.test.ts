// Seed compatibility: the seed article's webmail client (`PnsModel`), verbatim, in real Chromium against `pns serve`.
// Its page is served same-origin with `/pns/*` (as the webmail was): the static server forwards those to pns.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import type { SpawnedServer } from '@pns/test-support';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  browserSkip,
  clientDir,
  delay,
  Forwarder,
  heldPolls,
  launchBrowser,
  mintToken,
  type PollRecord,
  publish,
  type StaticServer,
  startPns,
  startStaticServer,
  waitFor,
} from './support/browser.js';
import { readSeedFixture, seedPageHtml, transformSeed } from './support/seed-model.js';

/** The seed article, next to the repository's checkout (not in CI, perhaps). */
const seedArticle = `${clientDir}../../../shared/seed/000_0d6981dc7fa0c9b0.txt`;

describe('seed fixture', { timeout: 10_000 }, () => {
  it('is the seed article’s code, byte for byte, from `/** *pns模型层` through `} })});`', (t) => {
    const fixture = readSeedFixture();
    assert.ok(fixture.startsWith('/** *pns模型层'));
    assert.ok(fixture.endsWith('} })});'));
    if (!existsSync(seedArticle)) {
      t.diagnostic(`seed article not found at ${seedArticle}: fixture not compared with it`);
      return;
    }
    const article = readFileSync(seedArticle, 'utf8');
    const start = article.indexOf('/** *pns模型层');
    assert.equal(article.slice(start, start + fixture.length), fixture);
  });

  it('runs after two changes only: a line break after each `//` comment, and ASCII quotes', () => {
    const fixture = readSeedFixture();
    const { code, comments } = transformSeed(fixture);
    assert.deepEqual(comments, [
      '// PNS接口地址负责推送消息到前端',
      '// 接口报错后下一次重新调接口的时间间隔',
      '// 接口报错后需要用定时器再调一次接口,pnsTimer用于报错定时器ID',
      '//pns推送过来的消息类型',
      '//留给以后扩展',
      '//self.autoReceiveMail();',
      '// 判断用户是否登录超时',
      '//c代表数量',
      '// TODO 根据消息类型处理业务逻辑',
    ]);
    assert.doesNotThrow(() => new Function(code), 'the transformed code parses');
    // Nothing else changed: undo the two changes and the fixture is back.
    assert.equal(code.replace(/\n/g, ''), fixture.replace(/[‘’]/g, "'"));
    assert.equal(code.split('\n').length, comments.length + 1);
    assert.ok(!/[‘’]/.test(code));
  });
});

describe('seed webmail client (PnsModel) in Chromium', { timeout: 120_000, skip: browserSkip }, () => {
  let web: StaticServer;
  let pns: SpawnedServer;
  let browser: Browser;
  let context: BrowserContext | undefined;

  before(async () => {
    web = await startStaticServer();
    web.setFile('/seed-pns-model.js', transformSeed(readSeedFixture()).code, 'text/javascript; charset=utf-8');
    // A short hold: the seed's request timeout is its pnsErrorInterval, which the error case lowers to 3 s.
    pns = await startPns(web.origin, { args: ['--hold-seconds', '1'] });
    browser = await launchBrowser();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  after(async () => {
    await browser?.close();
    await pns?.stop();
    await web?.close();
  });

  interface SeedInfo {
    pnsUrl: string;
    pnsErrorInterval: number;
    pnsTimer: unknown;
    mailMsg: number;
    registered: boolean;
    logger: boolean;
  }
  interface SeedLog {
    answers: number[];
    items: { id: string; ch: string; type: number | string; data: unknown }[];
    logs: string[][];
    triggers: string[];
    uncaught: string[];
  }
  type SeedWindow = { seedLog: SeedLog; startSeed(errorInterval: number): SeedInfo };

  /** Opens the host page for `user` with the seed model loaded, and starts the model. */
  async function startSeedPage(
    user: string,
    errorInterval: number,
  ): Promise<{ page: Page; sid: string; info: SeedInfo; forwarder: Forwarder }> {
    await waitFor('no held polls from earlier cases', async () => (await heldPolls(pns.url)) === 0);
    const sid = await mintToken(user);
    const forwarder = new Forwarder(pns.url, false);
    web.forwarder = forwarder;
    web.setFile(`/${user}.html`, seedPageHtml(sid));
    context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${web.origin}/${user}.html`);
    const info = await page.evaluate((interval) => (window as unknown as SeedWindow).startSeed(interval), errorInterval);
    return { page, sid, info, forwarder };
  }

  const seedLog = (page: Page): Promise<SeedLog> => page.evaluate(() => (window as unknown as SeedWindow).seedLog);
  const itemIds = async (page: Page): Promise<string[]> => (await seedLog(page)).items.map((item) => item.id);

  /** A poll held by pns that started less than 400 ms ago (so at least 600 ms of its 1 s hold are left). */
  async function freshHeldPoll(forwarder: Forwarder): Promise<PollRecord> {
    return waitFor(
      'a freshly held poll',
      async () => {
        const [poll] = forwarder.inFlight();
        return poll && Date.now() - poll.start < 400 && (await heldPolls(pns.url)) === 1 ? poll : undefined;
      },
      5000,
    );
  }

  it('gets every type-70 message once and in order, published while a poll is held and in the 500 ms between polls', async () => {
    const { page, sid, info, forwarder } = await startSeedPage('seedmail', 0);
    assert.deepEqual(info, {
      pnsUrl: `/pns/poll?sid=${sid}&comeFrom=1003`,
      pnsErrorInterval: 120_000,
      pnsTimer: null,
      mailMsg: 70,
      registered: true,
      logger: true,
    });
    const published: string[] = [];
    let n = 0;
    const send = async (count: number): Promise<{ from: number; to: number }> => {
      const ids = Array.from({ length: count }, () => `seed-${++n}`);
      const from = Date.now();
      await publish(
        pns.url,
        ids.map((id) => ({ to: 'user:seedmail', type: 70, data: { subject: id }, id })),
      );
      published.push(...ids);
      return { from, to: Date.now() };
    };
    /** Publishes while a poll is held; that poll's answer carries the messages. */
    const whileHeld = async (count: number): Promise<PollRecord> => {
      const poll = await freshHeldPoll(forwarder);
      await send(count);
      await waitFor('the held poll to answer', () => poll.end !== undefined);
      assert.equal(poll.status, 200);
      // pns answers a held poll with the first message that arrives: the rest of a batch may come with the next poll.
      const delivered = (JSON.parse(poll.body as string) as { msg: { id: string }[] }).msg.map((m) => m.id);
      assert.ok(delivered.length > 0, 'the held poll delivered');
      assert.deepEqual(delivered, published.slice(-count).slice(0, delivered.length), 'delivered by the poll that was held');
      return poll;
    };
    /** Publishes right after `answered` ended, before the seed's next poll (500 ms later) starts. */
    const inGap = async (answered: PollRecord, count: number): Promise<PollRecord> => {
      const index = forwarder.polls.indexOf(answered);
      const { from, to } = await send(count);
      const next = await waitFor('the next poll', () => forwarder.polls[index + 1], 5000);
      assert.ok((answered.end as number) <= from && to < next.start, 'published between two polls');
      return next;
    };

    let answered = await whileHeld(1);
    let next = await inGap(answered, 3); // the next poll is answered at once with these three
    await waitFor('the answer', () => next.end !== undefined);
    next = await inGap(next, 1);
    await waitFor('the answer', () => next.end !== undefined);
    answered = await whileHeld(2);
    // A hold that runs out (c: 0), then a message in the pause after it.
    const timedOut = await waitFor(
      'a c: 0 answer',
      () =>
        forwarder.polls.find(
          (poll) =>
            poll.start > (answered.end as number) && poll.end !== undefined && (JSON.parse(poll.body ?? '{}') as { c?: number }).c === 0,
        ),
      5000,
    );
    next = await inGap(timedOut, 2);
    await waitFor('the answer', () => next.end !== undefined);
    await whileHeld(1);
    await waitFor('every message', async () => (await itemIds(page)).length >= published.length);
    await delay(600); // one more poll round: nothing comes twice
    const log = await seedLog(page);
    assert.deepEqual(
      log.items.map((item) => item.id),
      published,
    );
    assert.ok(log.items.every((item) => item.type === 70 && item.ch === 'user:seedmail'));
    assert.ok(log.answers.includes(0), 'a hold ran out at least once');
    assert.deepEqual(log.uncaught, []);
    assert.deepEqual(
      log.logs.filter((entry) => entry[0] === 'error'),
      [],
    );
    assert.ok(log.triggers.length > 0 && log.triggers.every((name) => name === 'pnsNewArrival'));
    assert.ok(forwarder.polls.every((poll) => poll.url.includes('comeFrom=1003') && !poll.url.includes('cursor=')));
    assert.ok(forwarder.polls.every((poll) => poll.status === undefined || poll.status === 200));
  });

  it('waits pnsErrorInterval (3 s), not 500 ms, after a pns error answer, and still gets what was published meanwhile', async () => {
    const { page, info, forwarder } = await startSeedPage('seederror', 3000);
    assert.equal(info.pnsErrorInterval, 3000);
    const held = await freshHeldPoll(forwarder);
    await publish(pns.url, { to: 'user:seederror', type: 70, id: 'x-1' });
    await waitFor('x-1', async () => (await itemIds(page)).includes('x-1'));
    const armedAt = forwarder.polls.indexOf(held) + 1;
    forwarder.failNextPolls({
      status: 503,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"errorCode":"BACKEND_UNAVAILABLE","message":"x"}',
    });
    const failed = await waitFor(
      'the error answer',
      () => forwarder.polls.slice(armedAt).find((poll) => poll.canned && poll.end !== undefined),
      5000,
    );
    await publish(pns.url, { to: 'user:seederror', type: 70, id: 'x-2' });
    await delay(1500);
    await publish(pns.url, [
      { to: 'user:seederror', type: 70, id: 'x-3' },
      { to: 'user:seederror', type: 70, id: 'x-4' },
    ]);
    const index = forwarder.polls.indexOf(failed);
    const resumed = await waitFor('the next poll', () => forwarder.polls[index + 1], 8000);
    const waitedMs = resumed.start - (failed.end as number);
    assert.ok(waitedMs >= 2700 && waitedMs <= 6000, `next poll ${waitedMs} ms after the error answer`);
    await waitFor('x-4', async () => (await itemIds(page)).includes('x-4'));
    await delay(600); // one more poll round: nothing comes twice
    const log = await seedLog(page);
    assert.deepEqual(
      log.items.map((item) => item.id),
      ['x-1', 'x-2', 'x-3', 'x-4'],
    );
    assert.equal(forwarder.polls.filter((poll) => poll.canned).length, 1);
    assert.deepEqual(
      log.logs.filter((entry) => entry[0] === 'error'),
      [['error', 'newMailArrival returndata error']],
    );
    assert.deepEqual(log.uncaught, []);
    process.stdout.write(`# seed: next poll ${waitedMs} ms after a BACKEND_UNAVAILABLE answer (pnsErrorInterval 3000)\n`);
  });
});
