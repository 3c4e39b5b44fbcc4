import type { DashboardSnapshot } from '@pns/protocol';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { readItem, writeItem } from '../shared/storage.js';
import { fetchStats } from './api.js';
import { addSample } from './history.js';

const keyStorage = 'pns-admin-key';
const intervalMs = 1000;

export type DashboardState = 'connecting' | 'live' | 'disconnected' | 'key required';

export interface Stats {
  state: DashboardState;
  /** The newest sample: the last of `history`. */
  latest: DashboardSnapshot | undefined;
  /** The last five minutes of samples, oldest first. */
  history: DashboardSnapshot[];
  /** Samples received since the page loaded. */
  samples: number;
  /** Why the last poll failed, while disconnected. */
  reason: string;
  /** Whether the server refused a key this page sent (rather than no key at all). */
  keyRefused: boolean;
  submitKey: (key: string) => void;
}

/**
 * Polls the stats once a second. Trouble keeps the last data on screen and polling going; a 401 pauses polling
 * until a key is given.
 */
export function useStats(): Stats {
  const [history, setHistory] = useState<DashboardSnapshot[]>([]);
  const [samples, setSamples] = useState(0);
  const [connected, setConnected] = useState<boolean>();
  const [reason, setReason] = useState('');
  const [keyNeeded, setKeyNeeded] = useState(false);
  const [keyRefused, setKeyRefused] = useState(false);

  useEffect(() => {
    if (keyNeeded) return;
    let active = true;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const poll = async () => {
      const started = Date.now();
      const key = readItem('session', keyStorage);
      const result = await fetchStats(key);
      if (!active) return;
      if (result.kind === 'unauthorized') {
        setKeyRefused(key !== null);
        setKeyNeeded(true);
        return;
      }
      if (result.kind === 'ok') {
        setHistory((current) => addSample(current, result.stats));
        setSamples((count) => count + 1);
        setConnected(true);
      } else {
        setReason(result.reason);
        setConnected(false);
      }
      // Once a second from the start of each poll; a slow answer is not followed by a second one at once.
      timer = setTimeout(poll, Math.max(intervalMs - (Date.now() - started), 200));
    };
    void poll();

    return () => {
      active = false;
      clearTimeout(timer);
    };
  }, [keyNeeded]);

  const submitKey = useCallback((key: string) => {
    writeItem('session', keyStorage, key);
    setKeyNeeded(false);
  }, []);

  const state: DashboardState = keyNeeded ? 'key required' : connected === undefined ? 'connecting' : connected ? 'live' : 'disconnected';
  return { state, latest: history.at(-1), history, samples, reason, keyRefused, submitKey };
}
