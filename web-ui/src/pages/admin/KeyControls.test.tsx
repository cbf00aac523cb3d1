import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { KeysAdminPage } from "./KeysAdminPage";
import { apiKey, fakeApi, problem, renderPage, seriousViolations, type Call } from "../../test/render";
import { ADMIN, AUDITOR, adminSubscription } from "./fixtures";

const BOB_ID = "00000000-0000-7000-8000-0000000000b1";
const SUB = adminSubscription({ id: "00000000-0000-7000-8000-000000000001", status: "active" });
const bobs = (over: Record<string, unknown> = {}) => apiKey({ user_id: BOB_ID, owner_username: "bob", ...over });
const ACTIVE = bobs();
const BLOCKED = bobs({
  id: "00000000-0000-7000-8000-0000000000a2",
  name: "leaky",
  prefix: "sk-kp-Leaky1",
  blocked: true,
  blocked_at: "2026-01-04T10:00:00Z",
  block_reason: "leaked in a ticket",
});
const REVOKED = bobs({ id: "00000000-0000-7000-8000-0000000000a3", name: "old", prefix: "sk-kp-Old111", status: "revoked" });

const routes = (items: () => unknown[]) => ({
  "GET /api/v1/admin/api-keys": () => ({ body: { items: items() } }),
  "GET /api/v1/admin/subscriptions": { body: { items: [SUB] } },
  "GET /api/v1/settings/self-service": {
    body: { key_max_limits: { max_budget: "50.00", budget_duration: null, tpm_limit: null, rpm_limit: 100 } },
  },
});

const row = (name: string) => screen.getByRole("row", { name: new RegExp(`^${name} `) });
const posts = (calls: Call[]) => calls.filter((c) => c.method !== "GET");

describe("an administrator's controls of anybody's key", () => {
  it("offers admins what each key's state allows, never a rotation, and auditors nothing", async () => {
    fakeApi({ ...ADMIN, ...routes(() => [ACTIVE, BLOCKED, REVOKED]) });
    renderPage(<KeysAdminPage />);
    await screen.findByText("leaky");
    const names = (name: string) =>
      within(row(name))
        .queryAllByRole("button")
        .map((b) => b.textContent);
    await waitFor(() => expect(names("ci-pipeline")).toEqual(["Block…", "Limits…", "Revoke…"]));
    expect(names("leaky")).toEqual(["Unblock", "Limits…", "Revoke…"]);
    expect(names("old")).toEqual([]);
    expect(screen.queryByRole("button", { name: /Rotate/ })).toBeNull();
    expect(within(row("leaky")).getByText("blocked")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Block bob's key ci-pipeline" })).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows auditors the keys, blocked ones too, without any control", async () => {
    fakeApi({ ...AUDITOR, ...routes(() => [ACTIVE, BLOCKED]) });
    renderPage(<KeysAdminPage />);
    await screen.findByText("leaky");
    await waitFor(() => expect(screen.getByText(/Read-only: auditors/)).toBeInTheDocument());
    expect(within(row("leaky")).getByText("blocked")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Block|Unblock|Revoke|limits/ })).toBeNull();
  });

  it("blocks with the reason the owner sees, refusing to send none, then unblocks after confirming", async () => {
    let blocked = false;
    const calls = fakeApi({
      ...ADMIN,
      ...routes(() => [blocked ? { ...ACTIVE, blocked: true, block_reason: "leaked in a ticket" } : ACTIVE]),
      [`POST /api/v1/admin/api-keys/${ACTIVE.id}/block`]: ({ body }) => {
        blocked = true;
        return { body: { ...ACTIVE, blocked: true, block_reason: (body as { reason: string }).reason } };
      },
      [`POST /api/v1/admin/api-keys/${ACTIVE.id}/unblock`]: () => {
        blocked = false;
        return { body: ACTIVE };
      },
    });
    const user = userEvent.setup();
    renderPage(<KeysAdminPage />);
    await user.click(await screen.findByRole("button", { name: "Block bob's key ci-pipeline" }));
    const dialog = await screen.findByRole("dialog", { name: /Block bob's key ci-pipeline\?/ });
    await user.click(within(dialog).getByRole("button", { name: "Block" }));
    expect(within(dialog).getByText(/Give a reason/)).toBeInTheDocument();
    expect(posts(calls)).toEqual([]);
    await user.type(within(dialog).getByRole("textbox", { name: "Reason" }), "  leaked in a ticket ");
    await user.click(within(dialog).getByRole("button", { name: "Block" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(posts(calls).map((c) => [c.path, c.body])).toEqual([
      [`/api/v1/admin/api-keys/${ACTIVE.id}/block`, { reason: "leaked in a ticket" }],
    ]);
    expect(await within(row("ci-pipeline")).findByText("blocked")).toBeInTheDocument();

    await user.click(await screen.findByRole("button", { name: "Unblock bob's key ci-pipeline" }));
    const confirm = await screen.findByRole("dialog", { name: /Unblock bob's key ci-pipeline\?/ });
    await user.click(within(confirm).getByRole("button", { name: "Unblock" }));
    await waitFor(() =>
      expect(posts(calls).map((c) => c.path)).toEqual([
        `/api/v1/admin/api-keys/${ACTIVE.id}/block`,
        `/api/v1/admin/api-keys/${ACTIVE.id}/unblock`,
      ]),
    );
    await waitFor(() => expect(within(row("ci-pipeline")).queryByText("blocked")).toBeNull());
  });

  it("changes the limits within the owner's quotas, showing the server's objection on its field", async () => {
    let attempt = 0;
    const calls = fakeApi({
      ...ADMIN,
      ...routes(() => [ACTIVE]),
      [`PUT /api/v1/admin/api-keys/${ACTIVE.id}/limits`]: ({ body }) =>
        (attempt += 1) === 1
          ? problem(422, "validation", "invalid input", [
              { field: "limits.rpm_limit", message: "above your subscription to 'gpt-4o-mini' (60)" },
            ])
          : { body: { ...ACTIVE, limits: (body as { limits: unknown }).limits } },
    });
    const user = userEvent.setup();
    renderPage(<KeysAdminPage />);
    await user.click(await screen.findByRole("button", { name: "Edit the limits of bob's key ci-pipeline" }));
    const dialog = await screen.findByRole("dialog", { name: /Limits of bob's key ci-pipeline/ });
    const rpm = within(dialog).getByRole("textbox", { name: "Requests per minute" });
    expect(rpm).toHaveValue("10");
    await user.clear(rpm);
    await user.type(rpm, "0");
    await user.click(within(dialog).getByRole("button", { name: "Save limits" }));
    expect(within(dialog).getByText(/whole number from 1/)).toBeInTheDocument();
    expect(posts(calls)).toEqual([]);

    await user.clear(rpm);
    await user.type(rpm, "90");
    await user.click(within(dialog).getByRole("button", { name: "Save limits" }));
    expect(await within(dialog).findByText("above your subscription to 'gpt-4o-mini' (60)")).toBeInTheDocument();

    await user.clear(rpm);
    await user.type(rpm, "5");
    await user.type(within(dialog).getByRole("textbox", { name: "Reason" }), "fair use");
    await user.click(within(dialog).getByRole("button", { name: "Save limits" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(posts(calls).map((c) => c.body)).toEqual([
      { limits: { max_budget: "5.00", budget_duration: "30d", tpm_limit: 1000, rpm_limit: 90 } },
      {
        limits: { max_budget: "5.00", budget_duration: "30d", tpm_limit: 1000, rpm_limit: 5 },
        reason: "fair use",
      },
    ]);
  });

  it("revokes after confirming, with or without a reason", async () => {
    const calls = fakeApi({
      ...ADMIN,
      ...routes(() => [ACTIVE, BLOCKED]),
      [`POST /api/v1/admin/api-keys/${ACTIVE.id}/revoke`]: { body: { ...ACTIVE, status: "revoked" } },
      [`POST /api/v1/admin/api-keys/${BLOCKED.id}/revoke`]: { body: { ...BLOCKED, status: "revoked" } },
    });
    const user = userEvent.setup();
    renderPage(<KeysAdminPage />);
    await user.click(await screen.findByRole("button", { name: "Revoke bob's key ci-pipeline" }));
    let dialog = await screen.findByRole("dialog", { name: /Revoke bob's key ci-pipeline\?/ });
    expect(posts(calls)).toEqual([]);
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());

    await user.click(screen.getByRole("button", { name: "Revoke bob's key leaky" }));
    dialog = await screen.findByRole("dialog", { name: /Revoke bob's key leaky\?/ });
    await user.type(within(dialog).getByRole("textbox", { name: "Reason" }), "offboarding");
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(posts(calls).map((c) => [c.path, c.body])).toEqual([
      [`/api/v1/admin/api-keys/${ACTIVE.id}/revoke`, {}],
      [`/api/v1/admin/api-keys/${BLOCKED.id}/revoke`, { reason: "offboarding" }],
    ]);
  });
});
