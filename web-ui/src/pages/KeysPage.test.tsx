import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { KeysPage } from "./KeysPage";
import { setCsrfToken } from "../api/client";
import { apiKey, config, fakeApi, problem, renderPage, seriousViolations, subscription, type Call } from "../test/render";

const SECRET = "sk-kp-SECRETsecretSECRETsecretSECRETse12ab34";

function keysApi(over: Record<string, unknown> = {}) {
  return fakeApi({
    "GET /api/v1/api-keys": { body: { items: [] } },
    "GET /api/v1/subscriptions": {
      body: {
        items: [
          subscription(),
          subscription({ id: "00000000-0000-7000-8000-000000000002", model_id: "claude-3-haiku", status: "pending" }),
        ],
      },
    },
    "GET /api/v1/settings/self-service": { body: {} },
    ...over,
  });
}

/** Renders the page, with no key yet, and opens the dialog that creates one. */
async function openCreateDialog() {
  const user = userEvent.setup();
  renderPage(<KeysPage config={config} />);
  await screen.findByText("No API keys yet");
  await user.click(screen.getByRole("button", { name: "Create API key" }));
  return { user, dialog: await screen.findByRole("dialog") };
}

describe("the keys page", () => {
  it("shows loading, then the empty state", async () => {
    keysApi();
    renderPage(<KeysPage config={config} />);
    expect(screen.getByLabelText("Loading your keys")).toBeInTheDocument();
    expect(await screen.findByText("No API keys yet")).toBeInTheDocument();
  });

  it("shows the server's problem detail when the list fails", async () => {
    keysApi({ "GET /api/v1/api-keys": problem(503, "unavailable", "the database is not answering") });
    renderPage(<KeysPage config={config} />);
    expect(await screen.findByText("the database is not answering")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("lists keys with prefix, models, spend against budget, and a pending revocation", async () => {
    keysApi({
      "GET /api/v1/api-keys": {
        body: { items: [apiKey(), apiKey({ id: "k2", name: "old", status: "revoked", revocation_pending: true })] },
      },
    });
    renderPage(<KeysPage config={config} />);
    const row = await screen.findByTestId("key-ci-pipeline");
    expect(within(row).getByText("sk-kp-AbC123…")).toBeInTheDocument();
    expect(within(row).getByText("gpt-4o-mini")).toBeInTheDocument();
    expect(within(row).getByText("$1.25 of $5.00")).toBeInTheDocument();
    expect(within(screen.getByTestId("key-old")).getByText("revocation pending")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("lists every key, reading the list's pages until the last", async () => {
    const calls = keysApi({
      "GET /api/v1/api-keys": (call: Call) =>
        call.path.includes("cursor=")
          ? { body: { items: [apiKey({ id: "k2", name: "older" })], next_cursor: null } }
          : { body: { items: [apiKey()], next_cursor: "00000000-0000-7000-8000-0000000000a1" } },
    });
    renderPage(<KeysPage config={config} />);
    expect(await screen.findByTestId("key-older")).toBeInTheDocument();
    expect(screen.getByTestId("key-ci-pipeline")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "GET" && c.path.startsWith("/api/v1/api-keys")).map((c) => c.path)).toEqual([
      "/api/v1/api-keys?limit=200",
      "/api/v1/api-keys?limit=200&cursor=00000000-0000-7000-8000-0000000000a1",
    ]);
  });

  it("validates the create form before sending anything", async () => {
    const calls = keysApi();
    const { user, dialog } = await openCreateDialog();
    // Only active subscriptions can back a key: the pending one is not offered.
    expect(within(dialog).queryByLabelText(/claude-3-haiku/)).toBeNull();
    // One active subscription: chosen already, limits prefilled from its quota.
    expect(within(dialog).getByLabelText("gpt-4o-mini")).toBeChecked();
    expect(within(dialog).getByLabelText("Budget (USD)")).toHaveValue("10.00");
    expect(within(dialog).getByLabelText("Budget window")).toHaveValue("30d");
    await user.click(within(dialog).getByLabelText("gpt-4o-mini"));
    await user.clear(within(dialog).getByLabelText("Budget (USD)"));
    await user.type(within(dialog).getByLabelText("Budget (USD)"), "25");
    await user.click(within(dialog).getByRole("button", { name: "Create key" }));
    expect(within(dialog).getByText("Give the key a name.")).toBeInTheDocument();
    expect(within(dialog).getByText("Choose at least one subscription.")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);
    // With the subscription chosen again, its quota caps the budget the user typed.
    await user.click(within(dialog).getByLabelText("gpt-4o-mini"));
    await user.type(within(dialog).getByLabelText(/^Name/), "ci");
    await user.click(within(dialog).getByRole("button", { name: "Create key" }));
    expect(within(dialog).getByText("At most 10.00 USD (quota and maximum of your keys).")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);
    expect(await seriousViolations()).toEqual([]);
  });

  it("prefills the administrator's key defaults and caps at the maximums", async () => {
    const calls = keysApi({
      "GET /api/v1/settings/self-service": {
        body: {
          key_default_limits: { max_budget: "2.00", budget_duration: "7d", tpm_limit: null, rpm_limit: null },
          key_max_limits: { max_budget: null, budget_duration: null, tpm_limit: 5000, rpm_limit: null },
          key_max_lifetime_days: 30,
        },
      },
    });
    const { user, dialog } = await openCreateDialog();
    expect(within(dialog).getByLabelText("Budget (USD)")).toHaveValue("2.00");
    expect(within(dialog).getByLabelText("Budget window")).toHaveValue("7d");
    // tokens/min: the quota allows 10000, the administrator's maximum 5000.
    expect(within(dialog).getByLabelText("Tokens per minute")).toHaveValue("5000");
    expect(within(dialog).getByLabelText("Requests per minute")).toHaveValue("60");
    await user.clear(within(dialog).getByLabelText("Tokens per minute"));
    await user.type(within(dialog).getByLabelText("Tokens per minute"), "6000");
    await user.type(within(dialog).getByLabelText(/^Name/), "ci");
    await user.click(within(dialog).getByRole("button", { name: "Create key" }));
    expect(within(dialog).getByText("At most 5000 (quota and maximum of your keys).")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);
  });

  it("shows the server's field errors on their fields", async () => {
    keysApi({
      "POST /api/v1/api-keys": problem(409, "conflict", "a live key is already named ci", [
        { field: "name", message: "a live key is already named ci" },
      ]),
    });
    const { user, dialog } = await openCreateDialog();
    await user.type(within(dialog).getByLabelText(/^Name/), "ci");
    await user.click(within(dialog).getByRole("button", { name: "Create key" }));
    const name = within(dialog).getByLabelText(/^Name/);
    await waitFor(() => expect(name).toHaveAttribute("aria-invalid", "true"));
    expect(within(dialog).getAllByText("a live key is already named ci").length).toBeGreaterThan(0);
  });

  it("says why no key is created when the user already has the most live keys", async () => {
    const detail = "you already have 20 live keys, the most allowed; revoke one you no longer use first";
    const calls = keysApi({ "POST /api/v1/api-keys": problem(409, "conflict", detail) });
    const { user, dialog } = await openCreateDialog();
    await user.type(within(dialog).getByLabelText(/^Name/), "one-more");
    await user.click(within(dialog).getByRole("button", { name: "Create key" }));
    const alert = await within(dialog).findByRole("alert");
    expect(alert).toHaveTextContent("The key was not created");
    expect(alert).toHaveTextContent(detail);
    expect(within(dialog).getByLabelText(/^Name/)).not.toHaveAttribute("aria-invalid", "true");
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(1);
    expect(await seriousViolations()).toEqual([]);
  });

  it("creates a key, shows its secret once with examples, and forgets it when closed", async () => {
    setCsrfToken("csrf-1");
    const calls = keysApi({
      "POST /api/v1/api-keys": {
        status: 201,
        body: { key: apiKey({ name: "ci" }), secret: SECRET, litellm_base_url: "http://litellm.test/" },
      },
    });
    const { user, dialog } = await openCreateDialog();
    await user.type(within(dialog).getByLabelText(/^Name/), "ci");
    await user.click(within(dialog).getByRole("button", { name: "Create key" }));

    const secret = await screen.findByRole("dialog", { name: "Your new API key" });
    expect(within(secret).getByLabelText("The new key")).toHaveValue(SECRET);
    expect(within(secret).getByText(/curl http:\/\/litellm.test\/v1\/chat\/completions/)).toHaveTextContent(
      `Bearer ${SECRET}`,
    );
    const post = calls.find((c) => c.method === "POST");
    expect(post?.body).toMatchObject({
      name: "ci",
      subscription_ids: ["00000000-0000-7000-8000-000000000001"],
      limits: { max_budget: "10.00", budget_duration: "30d", tpm_limit: 10000, rpm_limit: 60 },
      expires_at: null,
    });
    expect(post?.headers.get("X-CSRF-Token")).toBe("csrf-1");
    expect(await seriousViolations()).toEqual([]);

    await user.click(within(secret).getByRole("button", { name: "I have stored the key" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(document.body.innerHTML).not.toContain(SECRET);
    setCsrfToken(null);
  });

  it("revokes a key only after confirmation", async () => {
    const calls = keysApi({
      "GET /api/v1/api-keys": { body: { items: [apiKey()] } },
      "POST /api/v1/api-keys/00000000-0000-7000-8000-0000000000a1/revoke": {
        body: apiKey({ status: "revoked", revocation_pending: true }),
      },
    });
    const user = userEvent.setup();
    renderPage(<KeysPage config={config} />);
    await user.click(await screen.findByRole("button", { name: "Actions for ci-pipeline" }));
    await user.click(await screen.findByRole("menuitem", { name: "Revoke" }));
    const dialog = await screen.findByRole("dialog", { name: /Revoke ci-pipeline\?/ });
    expect(calls.some((c) => c.path.endsWith("/revoke"))).toBe(false);
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.path.endsWith("/revoke"))).toBe(true));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
  });

  it("shows a key an administrator blocked, with the reason, and offers no rotation of it", async () => {
    keysApi({
      "GET /api/v1/api-keys": {
        body: { items: [apiKey({ blocked: true, blocked_at: "2026-01-04T10:00:00Z", block_reason: "leaked in a ticket" })] },
      },
    });
    const user = userEvent.setup();
    renderPage(<KeysPage config={config} />);
    const label = await screen.findByText("blocked");
    await user.hover(label);
    expect(await screen.findByText(/Blocked by an administrator: leaked in a ticket/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Actions for ci-pipeline" }));
    expect(await screen.findByRole("menuitem", { name: "Revoke" })).toBeInTheDocument();
    expect(screen.getByRole("menuitem", { name: "Edit limits" })).toBeInTheDocument();
    expect(screen.queryByRole("menuitem", { name: "Rotate" })).toBeNull();
  });
});
