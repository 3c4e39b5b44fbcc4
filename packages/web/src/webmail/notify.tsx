import type { Mail } from '@pns/protocol';
import { useState } from 'preact/hooks';
import { BellIcon } from './icons.js';

// Desktop notifications are optional everywhere: some browsers lack the API, and some throw on `new Notification`.

function notificationApi(): typeof Notification | undefined {
  return typeof window !== 'undefined' && 'Notification' in window ? window.Notification : undefined;
}

/** Shows a desktop notification for a pushed mail while the page is hidden; the toast covers the visible case. */
export function notifyNewMail(mail: Mail): void {
  const api = notificationApi();
  if (api?.permission !== 'granted' || document.visibilityState !== 'hidden') return;
  try {
    new api(`New mail from ${mail.from.name}`, { body: mail.subject, tag: mail.id });
  } catch {
    // Some mobile browsers only allow notifications from a service worker: the toast is still there.
  }
}

/** "Enable desktop notifications", shown only while the browser has not asked the user yet. */
export function NotifyButton() {
  const [permission, setPermission] = useState(() => notificationApi()?.permission);
  if (permission !== 'default') return null;

  const ask = async () => {
    const api = notificationApi();
    if (!api) return;
    try {
      setPermission(await api.requestPermission());
    } catch {
      setPermission(api.permission);
    }
  };

  return (
    <button type="button" class="notify-button" onClick={ask}>
      <BellIcon size={16} />
      Enable desktop notifications
    </button>
  );
}
