import type { Mail } from '@pns/protocol';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { Avatar } from './avatar.js';

const toastMs = 6000;

/** The toasts on screen and the function that adds one; each leaves by itself after a few seconds. */
export function useToasts(): [Mail[], (mail: Mail) => void] {
  const [toasts, setToasts] = useState<Mail[]>([]);
  const timers = useRef(new Set<ReturnType<typeof setTimeout>>());

  useEffect(() => {
    const pending = timers.current;
    return () => {
      for (const timer of pending) clearTimeout(timer);
      pending.clear();
    };
  }, []);

  const show = useCallback((mail: Mail) => {
    setToasts((current) => [...current, mail]);
    const timer = setTimeout(() => {
      timers.current.delete(timer);
      setToasts((current) => current.filter((toast) => toast !== mail));
    }, toastMs);
    timers.current.add(timer);
  }, []);

  return [toasts, show];
}

export function Toasts({ toasts }: { toasts: Mail[] }) {
  return (
    <div class="toasts" data-testid="toasts" aria-live="polite">
      {toasts.map((mail) => (
        <div class="toast" data-testid="toast" key={mail.id}>
          <Avatar user={mail.from} size={32} />
          <div class="toast-text">
            <div class="toast-title">New mail from {mail.from.name}</div>
            <div class="toast-subject">{mail.subject}</div>
          </div>
        </div>
      ))}
    </div>
  );
}
