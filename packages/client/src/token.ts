/**
 * The user id (`sub`) of a JWT session token, read without verifying it: only
 * to group the tabs of one user, never to authorize anything. Undefined for
 * tokens that are not JWTs (a deployment's own session ids).
 */
export function tokenSubject(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
