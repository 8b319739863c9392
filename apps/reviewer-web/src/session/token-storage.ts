// The token lives in sessionStorage: it survives a reload but not closing the tab, and other
// tabs do not share it.

const TOKEN_KEY = 'warden.reviewer.token';

export function readStoredToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage disabled by the browser: the session then lasts until the page reloads.
  }
}

export function clearStoredToken(): void {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Nothing was stored.
  }
}
