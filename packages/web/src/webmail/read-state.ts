import { useCallback, useEffect, useState } from 'preact/hooks';
import { readItem, writeItem } from '../shared/storage.js';

/** Enough for any demo inbox; keeps the stored list from growing forever. */
const maxRemembered = 1000;

const storageKey = (userId: string) => `pns-demo-read:${userId}`;

function load(userId: string): Set<string> {
  try {
    const parsed: unknown = JSON.parse(readItem('local', storageKey(userId)) ?? '[]');
    return new Set(Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string') : []);
  } catch {
    return new Set();
  }
}

/** The ids of the mails this user has opened, kept per user in localStorage and in step across tabs. */
export function useReadIds(userId: string): [ReadonlySet<string>, (id: string) => void] {
  const [read, setRead] = useState(() => load(userId));

  useEffect(() => {
    setRead(load(userId));
    // Another tab of the same user opened a mail: show it read here too.
    const onStorage = (event: StorageEvent) => {
      if (event.key === storageKey(userId)) setRead(load(userId));
    };
    addEventListener('storage', onStorage);
    return () => removeEventListener('storage', onStorage);
  }, [userId]);

  const markRead = useCallback(
    (id: string) => {
      setRead((current) => {
        if (current.has(id)) return current;
        const next = new Set(current).add(id);
        writeItem('local', storageKey(userId), JSON.stringify([...next].slice(-maxRemembered)));
        return next;
      });
    },
    [userId],
  );

  return [read, markRead];
}
