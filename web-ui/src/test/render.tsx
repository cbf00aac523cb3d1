// Test support: render a page with a fresh query client and a router, against a stand-in for the API.
import type { ReactElement } from "react";
import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { vi } from "vitest";
import axe from "axe-core";

export interface Call {
  method: string;
  path: string;
  headers: Headers;
  body: unknown;
}

type Handler = (call: Call) => { status?: number; body?: unknown } | Promise<{ status?: number; body?: unknown }>;

/**
 * Stands in for the network: `routes` maps "METHOD /path" to an answer (a problem+json for 4xx/5xx when
 * the body has a `detail`). Unknown routes answer 404. Returns the calls made, to assert on.
 */
export function fakeApi(routes: Record<string, Handler | { status?: number; body?: unknown }>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
    const url = new URL(request.url);
    const text = await request.text();
    const call: Call = {
      method: request.method,
      path: url.pathname + url.search,
      headers: request.headers,
      body: text ? JSON.parse(text) : undefined,
    };
    calls.push(call);
    const route = routes[`${call.method} ${url.pathname}`];
    const answer = typeof route === "function" ? await route(call) : route ?? { status: 404, body: { detail: "no such route" } };
    const status = answer.status ?? 200;
    const problem = status >= 400;
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status,
      headers: { "Content-Type": problem ? "application/problem+json" : "application/json" },
    });
  });
  return calls;
}

export function problem(status: number, code: string, detail: string, errors: { field: string; message: string }[] = []) {
  return {
    status,
    body: {
      type: `urn:keyport:problem:${code}`,
      code,
      title: code,
      status,
      detail,
      errors,
      field: errors[0]?.field ?? null,
    },
  };
}

export function renderPage(ui: ReactElement, path = "/") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>{ui}</MemoryRouter>
    </QueryClientProvider>,
  );
}

/** axe-core over the document; the serious and critical violations, described. */
export async function seriousViolations(root: Element = document.body): Promise<string[]> {
  const result = await axe.run(root, {
    rules: {
      // jsdom does not lay out or paint: contrast cannot be computed there (the e2e run checks real pages).
      "color-contrast": { enabled: false },
    },
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

export const config = { version: "0.1.0", litellm_base_url: "http://litellm.test", dev_login: true, oidc_enabled: false };

export const subscription = (over: Record<string, unknown> = {}) => ({
  id: "00000000-0000-7000-8000-000000000001",
  model_id: "gpt-4o-mini",
  status: "active",
  status_reason: null,
  quota: { max_budget: "10.00", budget_duration: "30d", tpm_limit: 10000, rpm_limit: 60 },
  created_at: "2026-01-02T10:00:00Z",
  updated_at: "2026-01-02T10:00:00Z",
  ...over,
});

export const apiKey = (over: Record<string, unknown> = {}) => ({
  id: "00000000-0000-7000-8000-0000000000a1",
  name: "ci-pipeline",
  prefix: "sk-kp-AbC123",
  status: "active",
  revocation_pending: false,
  sync_state: "synced",
  models: ["gpt-4o-mini"],
  subscription_ids: ["00000000-0000-7000-8000-000000000001"],
  limits: { max_budget: "5.00", budget_duration: "30d", tpm_limit: 1000, rpm_limit: 10 },
  spend: "1.25",
  expires_at: null,
  created_at: "2026-01-03T10:00:00Z",
  updated_at: "2026-01-03T10:00:00Z",
  blocked: false,
  blocked_at: null,
  block_reason: null,
  ...over,
});

export const model = (over: Record<string, unknown> = {}) => ({
  id: "gpt-4o-mini",
  display_name: "GPT-4o mini",
  provider: "openai",
  description: "Small and fast.",
  capabilities: ["chat", "vision"],
  context_window: 128000,
  input_price_per_token: "0.00000015",
  output_price_per_token: "0.0000006",
  availability: "available",
  restricted: false,
  hidden: false,
  default_quota: { max_budget: "10.00", budget_duration: "30d", tpm_limit: 10000, rpm_limit: 60 },
  ...over,
});
