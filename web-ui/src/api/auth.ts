// Sessions: who is signed in (/me), the development login, logout, and the single sign-on link.
import { api, setCsrfToken, unwrap, type Schemas } from "./client";
import { ApiProblem } from "./problem";

export type Role = "user" | "admin" | "auditor";
export type Me = Schemas["Me"];
export type MeUser = Schemas["MeUser"];

/** Who is signed in, or null when nobody is (401). */
export async function fetchMe(): Promise<Me | null> {
  try {
    const me = await unwrap(api.GET("/api/v1/me"));
    setCsrfToken(me.csrf_token ?? null);
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
  const me = await unwrap(api.POST("/api/v1/auth/dev-login", { body: { username, role } }));
  setCsrfToken(me.csrf_token ?? null);
  return me;
}

/** Ends the session; answers where to go to end the identity provider's session too, if anywhere. */
export async function logout(): Promise<string | null> {
  const answer = await unwrap(api.POST("/api/v1/auth/logout"));
  setCsrfToken(null);
  return answer?.logout_url ?? null;
}

/** The link that starts single sign-on and comes back to `returnTo` (issue 5: /api/v1/auth/login). */
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
