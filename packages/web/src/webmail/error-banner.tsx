export interface ErrorBannerProps {
  message: string;
  action?: { label: string; run: () => void } | undefined;
}

export function ErrorBanner({ message, action }: ErrorBannerProps) {
  return (
    <div class="error-banner" role="alert" data-testid="error">
      <span>{message}</span>
      {action && (
        <button type="button" class="link-button" onClick={action.run}>
          {action.label}
        </button>
      )}
    </div>
  );
}
