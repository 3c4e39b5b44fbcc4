// `pns serve --workers 2`, the real bundle: every worker serves, a killed worker comes back, SIGTERM stops them all.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type RedisInstance, redisSkipReason, type SpawnedServer, type SpawnOptions, spawnServer, startRedis } from '@pns/test-support';
import { delay, pollUrl } from './support/harness.js';
import { request } from './support/http-client.js';

const noRedis = redisSkipReason();

type LogLine = { msg?: string; pid?: number; worker?: number; workerPid?: number; workers?: number; url?: string; status?: number };

function logLines(output: string): LogLine[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogLine];
    } catch {
      return [];
    }
  });
}

/** Retries `find` until it returns a value; fails after `timeoutMs`. */
async function eventually<T>(find: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

/** A process that still runs (a zombie, dead but not yet reaped by its parent, does not count). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The pid of the worker that answered `/healthz` on a new connection (round robin spreads them). */
async function healthPid(url: string): Promise<number> {
  const answer = await request(`${url}/healthz`);
  assert.equal(answer.status, 200, answer.text);
  return (answer.json as { pid: number }).pid;
}

/** Asks /healthz on fresh connections until `count` different pids answered. */
function workerPids(url: string, count: number, timeoutMs = 10_000): Promise<Set<number>> {
  const seen = new Set<number>();
  return eventually(
    async () => {
      seen.add(await healthPid(url));
      return seen.size >= count ? seen : undefined;
    },
    timeoutMs,
    `${count} workers answering /healthz`,
  );
}

describe('pns serve --workers', { skip: noRedis, timeout: 120_000 }, () => {
  let redis: RedisInstance;
  const spawned: SpawnedServer[] = [];
  const serve = async (options: { port?: number; env?: Record<string, string> } = {}): Promise<SpawnedServer> => {
    const env = { PNS_REDIS_URL: redis.url, PNS_DRAIN_SECONDS: '1', ...options.env };
    const server = await spawnServer({ args: ['--workers', '2'], env, port: options.port } satisfies SpawnOptions);
    spawned.push(server);
    return server;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const server of spawned) server.child.kill('SIGKILL');
    await redis?.stop();
  });

  describe('#one pool', () => {
    let pool: SpawnedServer;
    let firstPids: Set<number>;
    before(async () => {
      // Debug: poll requests are logged (with the pid of the worker that answered).
      pool = await serve({ env: { PNS_LOG_LEVEL: 'debug' } });
      firstPids = await workerPids(pool.url, 2);
    });

    it('is ready once both workers listen, says so in one line and prints the dev banner once', () => {
      const lines = logLines(pool.output());
      const ready = lines.filter((line) => line.msg === 'pns listening');
      assert.equal(ready.length, 1, pool.output());
      assert.equal(ready[0]?.workers, 2);
      assert.equal(ready[0]?.url, pool.url);
      const workers = lines.filter((line) => line.msg === 'worker listening');
      assert.deepEqual(new Set(workers.map((line) => line.pid)), firstPids, 'the workers that answer are the two that said they listen');
      assert.ok(!firstPids.has(pool.child.pid as number), 'the primary does not serve');
      assert.equal(pool.output().split('SID=').length, 2, 'one dev banner');
    });

    it('every worker accepts the dev-mode token and publish key the primary printed', async () => {
      const sid = /SID=(\S+)/.exec(pool.output())?.[1] as string;
      const publishKey = /PNS_PUBLISH_KEY=(\S+)/.exec(pool.output())?.[1] as string;
      // Each worker logs the requests it answered: send on new connections until both answered with 200.
      const eachWorker = (path: string, send: () => Promise<{ status: number; text: string }>): Promise<true> =>
        eventually(
          async () => {
            const answer = await send();
            assert.equal(answer.status, 200, answer.text);
            const lines = logLines(pool.output()).filter(
              (line) => line.msg === 'request' && line.status === 200 && line.url?.startsWith(path),
            );
            const answeredBy = new Set(lines.map((line) => line.pid));
            return [...firstPids].every((pid) => answeredBy.has(pid)) || undefined;
          },
          10_000,
          `a 200 answer to ${path} from each worker`,
        );
      await eachWorker('/pns/poll', () => request(pollUrl(pool.url, { sid, hold: 0 })));
      await eachWorker('/pns/publish', () =>
        request(`${pool.url}/pns/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
          // Not to user 42, whose poll must be held later on.
          body: JSON.stringify({ to: 'user:7', type: 70 }),
        }),
      );
    });

    it('restarts a worker killed with SIGKILL, and the port keeps answering', async () => {
      const [victim, survivor] = [...firstPids] as [number, number];
      process.kill(victim, 'SIGKILL');
      const exited = await eventually(
        () => logLines(pool.output()).find((line) => line.msg === 'worker exited; restarting it' && line.workerPid === victim),
        5000,
        'the primary to log the exit',
      );
      assert.ok(exited.worker === 1 || exited.worker === 2);
      // Meanwhile the survivor takes every connection.
      for (let i = 0; i < 10; i++) assert.equal(await healthPid(pool.url), survivor);
      // The replacement (after the 1 s backoff) serves alongside it.
      const now = await workerPids(pool.url, 2, 15_000);
      assert.ok(now.has(survivor));
      assert.ok(!now.has(victim));
      assert.equal(running(victim), false);
    });

    it('SIGTERM on the primary drains the workers, exits 0 and leaves no worker', async () => {
      const sid = /SID=(\S+)/.exec(pool.output())?.[1] as string;
      const pids = new Set(logLines(pool.output()).flatMap((line) => (line.msg === 'worker listening' && line.pid ? [line.pid] : [])));
      assert.equal(pids.size, 3, 'two workers and one replacement');
      const held = request(pollUrl(pool.url, { sid, hold: 30 }));
      held.catch(() => {}); // awaited below
      // Each worker serves its own /metrics: ask until the one holding the poll answers.
      await eventually(
        async () =>
          /pns_held_connections\{transport="longpoll"\} 1\b/.test((await request(`${pool.url}/metrics`)).text) ? true : undefined,
        5000,
        'the poll to be held',
      );
      const started = Date.now();
      const code = await pool.stop(15_000);
      assert.equal(code, 0, pool.output());
      assert.ok(Date.now() - started < 10_000, `stopped within 10 s (took ${Date.now() - started} ms)`);
      const answer = await held;
      assert.equal(answer.status, 200, 'the held poll was answered during the drain');
      for (const pid of pids) assert.equal(running(pid), false, `worker ${pid} is gone`);
    });
  });

  it('workers exit when their primary is killed', async () => {
    const pool = await serve();
    const pids = await workerPids(pool.url, 2);
    const closed = new Promise((resolve) => pool.child.once('close', resolve));
    pool.child.kill('SIGKILL');
    // 'close' waits for every process holding the primary's stdout: the workers too.
    await Promise.race([closed, delay(10_000).then(() => assert.fail('the workers kept the output open for 10 s'))]);
    await eventually(() => ([...pids].some(running) ? undefined : true), 5000, 'the workers to exit');
  });

  it('a worker that cannot start stops the pool with exit code 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(serve({ port }), /exited with 1[\s\S]*EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});
