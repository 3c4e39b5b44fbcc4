import { useState } from 'preact/hooks';

/** Asks for the admin key; it is kept for this tab only (sessionStorage). */
export function KeyForm({ refused, onSubmit }: { refused: boolean; onSubmit: (key: string) => void }) {
  const [key, setKey] = useState('');
  return (
    <form
      class="key-form card"
      onSubmit={(event) => {
        event.preventDefault();
        if (key) onSubmit(key);
      }}
    >
      <h2>Admin key required</h2>
      <p class="muted">
        {refused ? 'The server refused that key. ' : ''}
        Enter the admin key to see this server's numbers. It is kept for this tab only.
      </p>
      <div class="key-row">
        <input
          type="password"
          data-testid="admin-key"
          aria-label="Admin key"
          placeholder="Admin key"
          autocomplete="current-password"
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
        />
        <button type="submit" class="button button-primary" data-testid="admin-key-submit">
          Show dashboard
        </button>
      </div>
    </form>
  );
}
