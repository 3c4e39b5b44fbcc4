// The fuzz suites' shared fixture: the real server (the bundle, spawned, so a crash is an exit and its memory is its
// own), legitimate subscribers of three users held open over all three transports while the fuzzing runs, and the
// checks every suite ends with: isolation, memory, the server's own log and warnings, and Object.prototype.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type SpawnedServer, spawnServer } from '@pns/test-support';
import fc from 'fast-check';
import { assertCatalogError } from './bad-input-table.js';
import { type TokenKeys, tokenKeys, validToken } from './fuzz-tokens.js';
import { delay } from './harness.js';
import { jwksFolder } from './jwks.js';
import { openSubscriber, type TransportSubscriber, transports } from './transport-subscriber.js';

const fuzzSecret = 'fuzz-secret-0123456789abcdef';
export const fuzzPublishKey = 'fuzz-publish-key-0123456789';
/** The one origin the fuzz server lets browsers read from, so CORS is exercised too. */
export const allowedOrigin = 'https://app.example';
/** The topics of `realCursors`' token: its cursors stand on `topic:news` and `topic:ops` too. */
const realTopics = ['news', 'ops'];
/** The channels `realCursors(user)`'s token may read, all others being someone else's. */
export const ownChannels = (user: string): ReadonlySet<string> => new Set([`user:${user}`, ...realTopics.map((topic) => `topic:${topic}`)]);
/** Users nothing fuzzed ever names (the arbitraries never make an `iso.` name): only the sentinels reach them. */
const isolationUsers = ['iso.a', 'iso.b', 'iso.c'] as const;
/** How much the server's heap (after a full collection) may grow over one suite's cases. */
const heapGrowthLimitBytes = 50 * 1024 * 1024;
const sentinelEveryMs = 200;

export interface Fuzz {
  url: string;
  base: URL;
  keys: TokenKeys;
  /** A valid HS256 token for `user`. */
  sid(user: string, extra?: Record<string, unknown>): string;
  /**
   * Runs `property` `numRuns` times (fast-check prints the seed and path of a failure; FUZZ_SEED and FUZZ_PATH
   * replay one), prints the count, then checks that the server is still up and healthy.
   */
  run<T>(name: string, numRuns: number, property: fc.IAsyncPropertyWithHooks<T>): Promise<void>;
  /** Counts an outcome of the running property (a status, a close code), printed with its count of cases. */
  note(outcome: string | number): void;
  /** Publishes `data` to `to` (never an isolation user's channel) and waits for the ids. */
  publish(to: string[], data: unknown): Promise<void>;
  /**
   * A token of `user` for `topic:news` and `topic:ops`, and real cursors, each from a real answer: `user`'s own
   * channel alone, with `topic:news`, and with both topics, each at four positions with messages published between them.
   */
  realCursors(user: string): Promise<{ sid: string; cursors: string[] }>;
  /** Asserts that an answer is a catalog error (`{errorCode, message}`, a catalog code with its status, never 5xx). */
  catalogError(answer: { status: number; headers: Record<string, unknown>; text: string }, context: string): string;
}

const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text);

/** fast-check's report, with the counterexample and the error cut short (a 70 KB frame or a 10 KB token is no help in a log). */
async function shortReport<T>(details: fc.RunDetails<T>): Promise<void> {
  if (!details.failed) return;
  const replay = `FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ''}`;
  const counterexample = clip(fc.stringify(details.counterexample), 1500);
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `Property failed after ${details.numRuns} tests (replay with ${replay})\nCounterexample: ${counterexample}\nError: ${clip(error, 1500)}`,
  );
}

/** Object.prototype as it stands: its own names, and what each of them holds (a value, or a getter and a setter). */
function prototypeNow(): [string, unknown, unknown, unknown][] {
  return Object.entries(Object.getOwnPropertyDescriptors(Object.prototype)).map(([name, { value, get, set }]) => [name, value, get, set]);
}

/**
 * The server's heap after a full garbage collection: the server runs with --expose-gc and a preloaded handler
 * that collects on SIGUSR2, so the figure is what is still held, not what is waiting to be collected.
 */
async function heapUsed(server: SpawnedServer): Promise<number> {
  for (let i = 0; i < 2; i++) {
    server.child.kill('SIGUSR2');
    await delay(100);
  }
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const match = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  assert.ok(match, 'nodejs_heap_size_used_bytes in /metrics');
  return Number(match[1]);
}

async function assertHealthy(server: SpawnedServer): Promise<void> {
  assert.equal(server.child.exitCode, null, `the server exited: ${server.errors().slice(-2000)}`);
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status?: unknown }).status, 'ok');
}

/** Publishes `body` with the fuzz server's key; anything but 200 fails the test. */
async function publishTo(url: string, body: unknown): Promise<void> {
  const answer = await fetch(`${url}/pns/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fuzzPublishKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(answer.status, 200, await answer.text());
}

/** Publishes messages to the isolation users in turn, in the middle of the fuzzing, and remembers what went where. */
class Sentinels {
  readonly sent = new Map<string, string[]>(isolationUsers.map((user) => [user, []]));
  private count = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly endpoint: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.publishOne());
    }, sentinelEveryMs);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.inFlight;
    // At least one for each user, even in a short run.
    for (let i = 0; i < isolationUsers.length; i++) await this.publishOne();
  }

  private async publishOne(): Promise<void> {
    const user = isolationUsers[this.count % isolationUsers.length] as string;
    const id = `iso-${this.endpoint}-${this.count++}`;
    await publishTo(this.url, { to: `user:${user}`, type: 'iso', id, data: { user } });
    this.sent.get(user)?.push(id);
  }
}

/** The fuzz suite of one endpoint: `body` declares its properties with `it` and runs them with `fuzz().run`. */
export function fuzzSuite(endpoint: string, body: (fuzz: () => Fuzz) => void): void {
  describe(`fuzz ${endpoint}`, { timeout: 240_000 }, () => {
    let server: SpawnedServer;
    let fuzz: Fuzz;
    let folder: ReturnType<typeof jwksFolder>;
    let sentinels: Sentinels;
    let heapBefore = 0;
    const watchers: { user: string; subscriber: TransportSubscriber }[] = [];
    const counts: [string, number][] = [];
    const outcomes = new Map<string, number>();
    const prototypeBefore = prototypeNow();

    before(async () => {
      const keys = tokenKeys(fuzzSecret);
      folder = jwksFolder();
      const collector = folder.write('gc-on-signal.cjs', "process.on('SIGUSR2', () => globalThis.gc());\n");
      server = await spawnServer({
        env: {
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --require ${collector}`.trim(),
          PNS_SECRET: fuzzSecret,
          PNS_PUBLISH_KEY: fuzzPublishKey,
          PNS_JWKS: folder.write('jwks.json', keys.jwks),
          // Polls answer at once unless they ask for a hold, and no hold is long.
          PNS_HOLD_SECONDS: '0',
          PNS_MAX_HOLD_SECONDS: '1',
          PNS_PUBLISH_RATE: '0',
          // Retained messages are bounded by this budget, well under the heap growth allowed below.
          PNS_MEMORY_MB: '16',
          PNS_MAX_CONNECTIONS_PER_USER: '1000',
          // Counted per address through X-Forwarded-For from loopback, so that code meets the fuzzed header.
          PNS_MAX_CONNECTIONS_PER_ADDRESS: '100000',
          PNS_TRUSTED_PROXIES: 'loopback',
          PNS_CORS_ORIGINS: allowedOrigin,
        },
      });
      const url = server.url;
      fuzz = {
        url,
        base: new URL(url),
        keys,
        sid: (user, extra) => validToken(keys, user, extra),
        async run(name, numRuns, property) {
          const started = performance.now();
          outcomes.clear();
          const replay = process.env.FUZZ_SEED === undefined ? {} : { seed: Number(process.env.FUZZ_SEED), path: process.env.FUZZ_PATH };
          await fc.assert(property, { numRuns, asyncReporter: shortReport, ...replay });
          await assertHealthy(server);
          const tally = [...outcomes].map(([outcome, count]) => `${outcome}×${count}`).join(', ');
          if (process.env.FUZZ_SEED !== undefined) {
            process.stdout.write(`# fuzz ${endpoint} · ${name}: replayed FUZZ_SEED=${process.env.FUZZ_SEED} (${tally})\n`);
            return;
          }
          counts.push([name, numRuns]);
          process.stdout.write(
            `# fuzz ${endpoint} · ${name}: ${numRuns} cases in ${Math.round(performance.now() - started)} ms (${tally})\n`,
          );
        },
        async publish(to, data) {
          assert.ok(!to.some((channel) => channel.startsWith('user:iso.')), 'the isolation users get only the sentinels');
          await publishTo(url, { to, type: 'fuzz', data });
        },
        async realCursors(user) {
          const sid = fuzz.sid(user, { topics: realTopics });
          const cursors: string[] = [];
          for (const [index, ch] of ['', 'topic:news', 'topic:news,topic:ops'].entries()) {
            let cursor = (
              (await (await fetch(`${url}/pns/poll?sid=${sid}&hold=0&comeFrom=real-${index}&ch=${ch}`)).json()) as { cursor: string }
            ).cursor;
            for (let round = 0; round < 4; round++) {
              cursors.push(cursor);
              await fuzz.publish([`user:${user}`, 'topic:news', 'topic:ops'], { round });
              const answer = await fetch(`${url}/pns/poll?sid=${sid}&hold=0&ch=${ch}&cursor=${encodeURIComponent(cursor)}`);
              assert.equal(answer.status, 200);
              cursor = ((await answer.json()) as { cursor: string }).cursor;
            }
          }
          return { sid, cursors };
        },
        note(outcome) {
          outcomes.set(String(outcome), (outcomes.get(String(outcome)) ?? 0) + 1);
        },
        catalogError(answer, context) {
          assert.ok(answer.status < 500, `${context}: status ${answer.status} ${answer.text.slice(0, 300)}`);
          return assertCatalogError(answer as Parameters<typeof assertCatalogError>[0], context).errorCode;
        },
      };
      for (const user of isolationUsers) {
        for (const transport of transports) watchers.push({ user, subscriber: openSubscriber(transport, url, { sid: fuzz.sid(user) }) });
      }
      await Promise.all(watchers.map(({ subscriber }) => subscriber.ready(10_000)));
      heapBefore = await heapUsed(server);
      sentinels = new Sentinels(url, endpoint);
      sentinels.start();
    });

    after(async () => {
      await sentinels?.stop().catch(() => {});
      for (const { subscriber } of watchers) await subscriber.close();
      await server?.stop(5000);
      folder?.remove();
    });

    describe('#properties', () => body(() => fuzz));

    describe('#afterwards', () => {
      it('delivered to each held subscriber exactly its own user’s messages, on every transport', async () => {
        await sentinels.stop();
        for (const { user, subscriber } of watchers) {
          const expected = sentinels.sent.get(user) ?? [];
          const context = `${subscriber.transport} subscriber of ${user}`;
          await subscriber.waitForMessages(expected.length, 10_000);
          await delay(50); // anything addressed elsewhere would have come by now too
          assert.deepEqual(
            subscriber.messages.map((message) => message.id),
            expected,
            context,
          );
          for (const message of subscriber.messages) assert.equal(message.ch, `user:${user}`, context);
          assert.deepEqual(subscriber.protocolErrors, [], context);
          assert.equal(subscriber.ending, undefined, `${context} ended: ${JSON.stringify(subscriber.ending)}`);
        }
      });

      it('kept its heap, wrote no error or warning, and left Object.prototype alone', async () => {
        const heapAfter = await heapUsed(server);
        const total = counts.reduce((sum, [, n]) => sum + n, 0);
        const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
        process.stdout.write(
          `# fuzz ${endpoint}: ${counts.length} properties, ${total} cases; server heap ${mb(heapBefore)} → ${mb(heapAfter)} MB\n`,
        );
        assert.ok(heapAfter - heapBefore < heapGrowthLimitBytes, `heap grew from ${mb(heapBefore)} to ${mb(heapAfter)} MB`);
        const bad = server
          .output()
          .split('\n')
          .filter((line) => /"level":(5\d|6\d)/.test(line) || /"status":5\d\d/.test(line));
        assert.deepEqual(bad, [], 'error-level or 5xx log lines');
        assert.equal(clip(server.errors(), 600), '', 'the server wrote to stderr (a Node.js warning?)');
        // Every answer of the run was parsed in this process, with JSON.parse: none may have reached Object.prototype.
        const now = prototypeNow();
        assert.deepEqual(
          now.map(([name]) => name),
          prototypeBefore.map(([name]) => name),
          'Object.prototype gained or lost properties',
        );
        for (const [index, entry] of now.entries()) {
          assert.ok(
            entry.every((part, i) => part === prototypeBefore[index]?.[i]),
            `Object.prototype.${entry[0]} was replaced`,
          );
        }
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        await assertHealthy(server);
      });
    });
  });
}
