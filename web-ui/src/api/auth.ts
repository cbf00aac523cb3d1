// Sessions: who is signed in (/me), the development login, logout. These paths are the auth contract of
// issue 5; until they are in docs/openapi.json their types are written here (see README in web-ui/).
import { request, setCsrfToken } from "./client";
import { ApiProblem } from "./problem";

export type Role = "user" | "admin" | "auditor";

export interface MeUser {
  id: string;
  username: string;
  email?: string | null;
  display_name?: string | null;
  roles: Role[];
  status: string;
}

export interface Me {
  user: MeUser;
  csrf_token: string;
  auth: "session" | "token";
  session_expires_at?: string | null;
}

/** Who is signed in, or null when nobody is (401). */
export async function fetchMe(): Promise<Me | null> {
  try {
    const me = await request<Me>("GET", "/api/v1/me");
    setCsrfToken(me.csrf_token);
    return me;
  } catch (e) {
    if (e instanceof ApiProblem && e.status === 401) {
      setCsrfToken(null);
      return null;
    }
    throw e;
  }
}

export async function devLogin(username: string, role: Role): Promise<Me> {
  const me = await request<Me>("POST", "/api/v1/auth/dev-login", { username, role });
  setCsrfToken(me.csrf_token);
  return me;
}

export async function logout(): Promise<string | null> {
  const answer = await request<{ logout_url?: string | null }>("POST", "/api/v1/auth/logout");
  setCsrfToken(null);
  return answer?.logout_url ?? null;
}

/** The link that starts single sign-on and comes back to `returnTo`. */
export function ssoLoginUrl(returnTo: string): string {
  return `/api/v1/auth/login?return_to=${encodeURIComponent(returnTo)}`;
}

export function isAdmin(me: Me | null | undefined): boolean {
  return !!me?.user.roles.includes("admin");
}

/** Admins and auditors see the administration pages (auditors read-only). */
export function canOversee(me: Me | null | undefined): boolean {
  return !!me && (me.user.roles.includes("admin") || me.user.roles.includes("auditor"));
}
