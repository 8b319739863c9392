import type { MouseEvent } from 'react';
import type { Principal } from '../api/review.types';
import { QUEUE_HREF } from '../shared/use-hash-route';

interface AppHeaderProps {
  principal: Principal | null;
  onSignOut: () => void;
}

export function AppHeader({ principal, onSignOut }: AppHeaderProps) {
  return (
    <header className="app-header">
      <a className="skip-link" href="#main" onClick={focusMain}>
        Skip to main content
      </a>
      <div className="app-header-inner">
        <p className="app-name">
          <span aria-hidden="true" className="app-mark">W</span> Warden review
        </p>
        {principal ? (
          <>
            <nav aria-label="Main">
              <a href={QUEUE_HREF}>Review queue</a>
            </nav>
            <dl className="principal" aria-label="Signed-in user">
              <div>
                <dt>Subject</dt>
                <dd data-testid="principal-subject">{principal.subject}</dd>
              </div>
              <div>
                <dt>Tenant</dt>
                <dd data-testid="principal-tenant">{principal.tenant}</dd>
              </div>
              <div>
                <dt>Roles</dt>
                <dd data-testid="principal-roles">{principal.roles.join(', ') || 'none'}</dd>
              </div>
            </dl>
            <button type="button" className="button-secondary" onClick={onSignOut} data-testid="sign-out">
              Sign out
            </button>
          </>
        ) : null}
      </div>
    </header>
  );
}

// A hash link to #main would replace the #/queue or #/case route, so the skip link moves focus itself.
function focusMain(event: MouseEvent<HTMLAnchorElement>): void {
  event.preventDefault();
  document.getElementById('main')?.focus();
}
