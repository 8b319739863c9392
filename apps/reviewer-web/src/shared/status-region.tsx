import type { StatusMessage } from './status';

const TONE_PREFIX = { info: 'Info', success: 'Done', error: 'Error' } as const;

interface StatusRegionProps {
  message: StatusMessage | null;
  onDismiss: () => void;
}

/**
 * Renders the page's single live region. It stays in the DOM while empty, because screen readers
 * announce only changes to a region that already exists. The prefix word carries the tone, so
 * the colour is never the only signal.
 */
export function StatusRegion({ message, onDismiss }: StatusRegionProps) {
  return (
    <div className="status-bar">
      <div
        role="status"
        aria-live="polite"
        data-testid="status-message"
        data-tone={message?.tone}
        className={message ? `status-message status-${message.tone}` : 'status-message status-empty'}
      >
        {message ? (
          <span key={message.id}>
            <strong>{TONE_PREFIX[message.tone]}:</strong> {message.text}
          </span>
        ) : null}
      </div>
      {message ? (
        <button type="button" className="button-link status-dismiss" onClick={onDismiss}>
          Dismiss message
        </button>
      ) : null}
    </div>
  );
}
