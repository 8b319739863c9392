import { useEffect, useState } from 'react';

export type Route = { view: 'queue' } | { view: 'case'; caseId: string };

export function parseHash(hash: string): Route {
  const match = /^#\/case\/(.+)$/.exec(hash);
  if (match) return { view: 'case', caseId: decodeURIComponent(match[1]) };
  return { view: 'queue' };
}

export function caseHref(caseId: string): string {
  return `#/case/${encodeURIComponent(caseId)}`;
}

export const QUEUE_HREF = '#/queue';

export function navigateTo(href: string): void {
  window.location.hash = href;
}

/** Returns the route that the location hash names (`#/queue` or `#/case/<id>`), following changes. */
export function useHashRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));

  useEffect(() => {
    const onHashChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);

  return route;
}
