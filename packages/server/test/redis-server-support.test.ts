import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisCommand, redisSkipReason, startRedis, startRedisCluster } from '@pns/test-support';

const noRedis = redisSkipReason();

/** Until nothing answers on `port` (a killed process is gone a moment after the signal). */
async function refused(port: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    const answered = await redisCommand(port, ['PING'], 500).then(
      () => true,
      () => false,
    );
    if (!answered) return true;
    await sleep(20);
  }
  return false;
}

describe('redis-server test support', { skip: noRedis, timeout: 60_000 }, () => {
  describe('#startRedis', () => {
    it('answers PING on loopback, and is gone with its dir after stop()', async () => {
      const redis = await startRedis();
      try {
        assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
        assert.equal(await redisCommand(redis.port, ['PING']), 'PONG');
        assert.ok(existsSync(redis.dir));
      } finally {
        await redis.stop();
      }
      assert.equal(existsSync(redis.dir), false);
      assert.ok(await refused(redis.port));
    });

    it('keeps a write acknowledged before SIGKILL when appendOnly, after restart()', async () => {
      const redis = await startRedis({ appendOnly: true });
      try {
        assert.equal(await redisCommand(redis.port, ['SET', 'kept', 'yes']), 'OK');
        await redis.kill();
        assert.ok(await refused(redis.port));
        await redis.restart();
        assert.equal(await redisCommand(redis.port, ['GET', 'kept']), 'yes');
      } finally {
        await redis.stop();
      }
    });

    it('kills what a test process left running when it exits', async () => {
      const moduleUrl = import.meta.resolve('@pns/test-support');
      const script = `const { startRedis } = await import(${JSON.stringify(moduleUrl)});
        const redis = await startRedis(); process.stdout.write(JSON.stringify(redis)); process.exit(0);`;
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (error, out) =>
          error ? reject(error) : resolve(out),
        );
      });
      const left = JSON.parse(stdout) as { port: number; dir: string };
      assert.ok(await refused(left.port));
      assert.equal(existsSync(left.dir), false);
    });
  });

  describe('#startRedisCluster', () => {
    it('joins three masters that cover every slot', async () => {
      const cluster = await startRedisCluster();
      try {
        assert.equal(cluster.urls.length, 3);
        for (const node of cluster.nodes) {
          const info = String(await redisCommand(node.port, ['CLUSTER', 'INFO']));
          assert.match(info, /^cluster_state:ok\r$/m);
          assert.match(info, /^cluster_slots_assigned:16384\r$/m);
          assert.match(info, /^cluster_size:3\r$/m);
        }
        const nodes = String(await redisCommand(cluster.nodes[0]?.port ?? 0, ['CLUSTER', 'NODES']));
        assert.equal(nodes.split('\n').filter((line) => /\bmaster\b/.test(line)).length, 3);
      } finally {
        await cluster.stop();
      }
    });
  });
});
