// The typed client of keyport's API. Types come from src/api/schema.d.ts, generated from the server's
// OpenAPI document before every type check, so a change of the API that the app does not follow fails the
// build. Requests go to the same origin with the session cookie; unsafe methods carry the CSRF token.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";
import { ApiProblem, toProblem } from "./problem";

export type Schemas = components["schemas"];
export type Model = Schemas["ModelDto"];
export type Subscription = Schemas["SubscriptionDto"];
export type ApiKey = Schemas["ApiKeyDto"];
export type CreatedApiKey = Schemas["CreatedApiKey"];
export type Limits = Schemas["LimitsDto"];
export type PublicConfig = Schemas["PublicConfig"];
export type CreateApiKey = Schemas["CreateApiKey"];
export type UpdateApiKey = Schemas["UpdateApiKey"];
export type SelfServiceSettings = Schemas["SettingsDto"];

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
// The readable CSRF cookie: `__Host-keyport_csrf` where keyport serves HTTPS, `keyport_csrf` on plain-HTTP
// localhost development. The prefixed name wins when both are present.
export const CSRF_COOKIES = ["__Host-keyport_csrf", "keyport_csrf"] as const;
export const CSRF_HEADER = "X-CSRF-Token";

let csrfToken: string | null = null;

/** Remembers the CSRF token of the session (from /me or the login answer). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** The CSRF token in a `document.cookie` string, under either name of the CSRF cookie. */
export function csrfFromCookies(cookies: string): string | null {
  const found = new Map<string, string>();
  for (const part of cookies.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name) found.set(name, value.join("="));
  }
  for (const name of CSRF_COOKIES) {
    const value = found.get(name);
    if (value) return decodeURIComponent(value);
  }
  return null;
}

function csrfFromCookie(): string | null {
  if (typeof document === "undefined") return null;
  return csrfFromCookies(document.cookie);
}

/** The CSRF token to send: the one the session announced, else the readable cookie. */
export function currentCsrfToken(): string | null {
  return csrfToken ?? csrfFromCookie();
}

function withCsrf(method: string, headers: Headers): void {
  if (SAFE_METHODS.has(method.toUpperCase())) return;
  const token = currentCsrfToken();
  if (token) headers.set(CSRF_HEADER, token);
}

const csrf: Middleware = {
  onRequest({ request }) {
    withCsrf(request.method, request.headers);
    return request;
  },
};

export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "http://localhost" : window.location.origin,
  credentials: "same-origin",
  headers: { Accept: "application/json" },
  // Looked up on each call (not captured once), so tests can stand in for the network.
  fetch: (input: Request) => globalThis.fetch(input),
});
api.use(csrf);

/** The answer of an openapi-fetch call: its data, or an ApiProblem thrown from the problem+json body. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (e) {
    throw toProblem(0, e instanceof Error ? e.message : String(e));
  }
  const { data, error, response } = result;
  if (!response.ok) throw toProblem(response.status, error, response.statusText);
  return data as T;
}

/**
 * A request to a path that is not (yet) in the OpenAPI document, with the same cookie, CSRF and problem
 * handling as the typed client. Prefer `api` for every documented path.
 */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers = new Headers({ Accept: "application/json" });
  if (body !== undefined) headers.set("Content-Type", "application/json");
  withCsrf(method, headers);
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw toProblem(0, e instanceof Error ? e.message : String(e));
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text for the error
  }
  if (!response.ok) throw toProblem(response.status, parsed, response.statusText);
  return parsed as T;
}

export { ApiProblem };
