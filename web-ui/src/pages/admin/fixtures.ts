// Test data of the administration API.
export const meAs = (roles: string[], id = "00000000-0000-7000-8000-0000000000ad") => ({
  user: { id, username: roles.includes("admin") ? "root" : "eve", email: null, display_name: null, roles, status: "active" },
  csrf_token: "csrf-abc",
  auth: "session",
  session_expires_at: null,
});

export const ADMIN = { "GET /api/v1/me": { body: meAs(["user", "admin"]) } };
export const AUDITOR = { "GET /api/v1/me": { body: meAs(["user", "auditor"]) } };

export const adminSubscription = (over: Record<string, unknown> = {}) => ({
  id: "00000000-0000-7000-8000-000000000101",
  user_id: "00000000-0000-7000-8000-0000000000b1",
  owner_username: "bob",
  model_id: "claude-3-5-sonnet",
  status: "pending",
  status_reason: null,
  quota: { max_budget: "10.00", budget_duration: "30d", tpm_limit: 10000, rpm_limit: 60 },
  created_at: "2026-01-02T10:00:00Z",
  updated_at: "2026-01-02T10:00:00Z",
  ...over,
});

export const adminUser = (over: Record<string, unknown> = {}) => ({
  id: "00000000-0000-7000-8000-0000000000b1",
  username: "bob",
  email: "bob@example.test",
  display_name: "Bob",
  roles: ["user"],
  status: "active",
  created_at: "2026-01-01T10:00:00Z",
  ...over,
});

export const userDetail = (over: Record<string, unknown> = {}) => ({
  ...adminUser(),
  keys: 3,
  live_keys: 1,
  subscriptions: 2,
  active_subscriptions: 1,
  pending_subscriptions: 1,
  ...over,
});

export const settings = (over: Record<string, unknown> = {}) => ({
  source: "configuration",
  subscription_max_quota: { max_budget: "100.00", budget_duration: "30d", tpm_limit: null, rpm_limit: null },
  key_default_limits: { max_budget: "5.00", budget_duration: "30d", tpm_limit: null, rpm_limit: 10 },
  key_max_limits: { max_budget: "50.00", budget_duration: null, tpm_limit: null, rpm_limit: 100 },
  key_default_lifetime_days: 90,
  key_max_lifetime_days: 365,
  max_live_keys_per_user: 20,
  token_max_lifetime_days: 90,
  allowed_routes: ["/chat/completions", "/v1/chat/completions", "/embeddings", "/v1/embeddings"],
  available_routes: [
    "/chat/completions",
    "/v1/chat/completions",
    "/embeddings",
    "/v1/embeddings",
    "/models",
    "/v1/models",
    "/rerank",
    "/v1/rerank",
  ],
  ...over,
});

export const auditEvent = (over: Record<string, unknown> = {}) => ({
  id: 42,
  at: "2026-01-05T12:00:00Z",
  actor: "00000000-0000-7000-8000-0000000000ad",
  actor_username: "root",
  action: "model.update",
  target_type: "model",
  target_id: "claude-3-5-sonnet",
  before: { restricted: false },
  after: { restricted: true },
  request_id: "7d0e1234-aaaa-bbbb-cccc-000000000000",
  client_request_id: "ci-run-812",
  client_addr: "192.0.2.7",
  sealed: true,
  seq: 41,
  hash: "3f1c00",
  ...over,
});

export const reconcileRun = (over: Record<string, unknown> = {}) => ({
  id: 12,
  started_at: "2026-01-05T12:00:00Z",
  finished_at: "2026-01-05T12:00:04Z",
  trigger: "background",
  dry_run: false,
  litellm_keys: 41,
  keyport_rows: 40,
  litellm_calls: 3,
  findings: {},
  fixed: 0,
  error: null,
  ...over,
});
