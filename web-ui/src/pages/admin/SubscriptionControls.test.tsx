import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { UserDetailPage } from "./UserDetailPage";
import { fakeApi, problem, renderPage, seriousViolations } from "../../test/render";
import { ADMIN, AUDITOR, adminSubscription, adminUser, userDetail } from "./fixtures";

const BOB = adminUser();
const detailPage = (
  <Routes>
    <Route path="/admin/users/:id" element={<UserDetailPage />} />
  </Routes>
);
const ACTIVE = adminSubscription({ status: "active" });
const SUSPENDED = adminSubscription({
  id: "00000000-0000-7000-8000-000000000102",
  model_id: "gpt-4o",
  status: "suspended",
  status_reason: "unpaid invoice",
});
const PENDING = adminSubscription({ id: "00000000-0000-7000-8000-000000000103", model_id: "o1" });
const CANCELLED = adminSubscription({
  id: "00000000-0000-7000-8000-000000000104",
  model_id: "gpt-3.5",
  status: "cancelled",
  status_reason: "left the project",
});

const userRoutes = (subscriptions: unknown[] | (() => { body: unknown })) => ({
  [`GET /api/v1/admin/users/${BOB.id}`]: { body: userDetail() },
  [`GET /api/v1/admin/users/${BOB.id}/access-tokens`]: { body: { items: [] } },
  "GET /api/v1/admin/api-keys": { body: { items: [] } },
  "GET /api/v1/admin/subscriptions": Array.isArray(subscriptions) ? { body: { items: subscriptions } } : subscriptions,
});

const row = (model: string) => screen.getByRole("row", { name: new RegExp(`^${model} `) });

describe("a user's subscriptions, controlled by administrators", () => {
  it("offers admins what each status allows, shows why a subscription ended, and offers auditors nothing", async () => {
    fakeApi({ ...ADMIN, ...userRoutes([ACTIVE, SUSPENDED, PENDING, CANCELLED]) });
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await screen.findByText("gpt-4o");
    const names = (model: string) =>
      within(row(model))
        .getAllByRole("button")
        .map((b) => b.textContent)
        .filter((t) => t !== "History");
    await waitFor(() => expect(names("claude-3-5-sonnet")).toEqual(["Suspend…", "Change quota…", "Revoke…"]));
    expect(names("gpt-4o")).toEqual(["Reactivate", "Change quota…", "Revoke…"]);
    expect(names("o1")).toEqual(["Revoke…"]);
    expect(names("gpt-3.5")).toEqual([]);
    expect(screen.getByRole("button", { name: "Suspend… bob's claude-3-5-sonnet" })).toBeInTheDocument();
    expect(within(row("gpt-4o")).getByText("unpaid invoice")).toBeInTheDocument();
    expect(within(row("gpt-3.5")).getByText("left the project")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows auditors the subscriptions without any control", async () => {
    fakeApi({ ...AUDITOR, ...userRoutes([ACTIVE, SUSPENDED, PENDING]) });
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await screen.findByText("gpt-4o");
    await waitFor(() => expect(screen.getByText(/Read-only: auditors/)).toBeInTheDocument());
    expect(within(row("gpt-4o")).getByText("unpaid invoice")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Suspend|Reactivate|Revoke|Change quota/ })).toBeNull();
    expect(screen.getAllByRole("button", { name: /^History of/ })).toHaveLength(3);
    expect(await seriousViolations()).toEqual([]);
  });

  it("suspends with the reason given, then shows the new status and its reason", async () => {
    let suspended = false;
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes(() => ({
        body: { items: [suspended ? { ...ACTIVE, status: "suspended", status_reason: "abuse report 42" } : ACTIVE] },
      })),
      [`POST /api/v1/admin/subscriptions/${ACTIVE.id}/suspend`]: ({ body }) => {
        suspended = true;
        return { body: { ...ACTIVE, status: "suspended", status_reason: (body as { reason: string }).reason } };
      },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "Suspend… bob's claude-3-5-sonnet" }));
    const dialog = await screen.findByRole("dialog", { name: /Suspend bob's claude-3-5-sonnet$/ });
    expect(dialog).toHaveTextContent("blocked, not revoked");
    await user.click(within(dialog).getByRole("button", { name: "Suspend" }));
    expect(within(dialog).getByText("Give a reason: the user sees it.")).toBeInTheDocument();
    expect(within(dialog).getByLabelText(/^Reason/)).toHaveAttribute("aria-invalid", "true");
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    expect(await seriousViolations()).toEqual([]);
    await user.type(within(dialog).getByLabelText(/^Reason/), "  abuse report 42 ");
    await user.click(within(dialog).getByRole("button", { name: "Suspend" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const post = calls.find((c) => c.method === "POST");
    expect(post?.path).toBe(`/api/v1/admin/subscriptions/${ACTIVE.id}/suspend`);
    expect(post?.body).toEqual({ reason: "abuse report 42" });
    expect(post?.headers.get("X-CSRF-Token")).toBe("csrf-abc");
    expect(await screen.findByText("bob's claude-3-5-sonnet is suspended.")).toBeInTheDocument();
    expect(within(row("claude-3-5-sonnet")).getByText("suspended")).toBeInTheDocument();
    expect(within(row("claude-3-5-sonnet")).getByText("abuse report 42")).toBeInTheDocument();
    expect(within(row("claude-3-5-sonnet")).getByRole("button", { name: /^Reactivate/ })).toBeInTheDocument();
  });

  it("shows the server's 409 when the status no longer allows the change", async () => {
    fakeApi({
      ...ADMIN,
      ...userRoutes([SUSPENDED]),
      [`POST /api/v1/admin/subscriptions/${SUSPENDED.id}/reactivate`]: problem(
        409,
        "conflict",
        "the subscription is not suspended any more",
      ),
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "Reactivate bob's gpt-4o" }));
    const dialog = await screen.findByRole("dialog", { name: /Reactivate bob's gpt-4o\?$/ });
    await user.click(within(dialog).getByRole("button", { name: "Reactivate" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("the subscription is not suspended any more");
    expect(await seriousViolations()).toEqual([]);
  });

  it("revokes after warning about the keys, with the reason's objection on its field", async () => {
    let attempt = 0;
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes([PENDING]),
      [`POST /api/v1/admin/subscriptions/${PENDING.id}/revoke`]: () =>
        (attempt += 1) === 1
          ? problem(422, "validation", "the request is not valid", [{ field: "reason", message: "at most 500 characters" }])
          : { body: { ...PENDING, status: "cancelled", status_reason: "wrong model" } },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "Revoke… bob's o1" }));
    const dialog = await screen.findByRole("dialog", { name: /Revoke bob's o1$/ });
    expect(dialog).toHaveTextContent("Keys that serve only this subscription are revoked");
    await user.type(within(dialog).getByLabelText(/^Reason/), "wrong model");
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));
    expect(await within(dialog).findByText("at most 500 characters")).toBeInTheDocument();
    expect(within(dialog).getByLabelText(/^Reason/)).toHaveAttribute("aria-invalid", "true");
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));
    expect(await screen.findByText("bob's o1 is cancelled.")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST").map((c) => c.body)).toEqual([
      { reason: "wrong model" },
      { reason: "wrong model" },
    ]);
  });

  it("changes the quota, prefilled from the current one and checked like the other limits", async () => {
    let attempt = 0;
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes([ACTIVE]),
      [`PUT /api/v1/admin/subscriptions/${ACTIVE.id}/quota`]: ({ body }) =>
        (attempt += 1) === 1
          ? problem(422, "validation", "the quota is not valid", [
              { field: "quota.max_budget", message: "must be at most 1000000" },
            ])
          : { body: { ...ACTIVE, quota: (body as { quota: unknown }).quota } },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "Change quota… bob's claude-3-5-sonnet" }));
    const dialog = await screen.findByRole("dialog", { name: "Change the quota of bob's claude-3-5-sonnet" });
    const field = (label: string) => within(dialog).getByLabelText(label);
    expect(field("Budget (USD)")).toHaveValue("10.00");
    expect(field("Budget window")).toHaveValue("30d");
    expect(field("Tokens per minute")).toHaveValue("10000");
    expect(field("Requests per minute")).toHaveValue("60");
    expect(await seriousViolations()).toEqual([]);

    await user.clear(field("Requests per minute"));
    await user.type(field("Requests per minute"), "0");
    await user.click(within(dialog).getByRole("button", { name: "Save quota" }));
    expect(within(dialog).getByText("Enter a whole number from 1, or leave it empty for unlimited.")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "PUT")).toBe(false);

    await user.clear(field("Requests per minute"));
    await user.clear(field("Tokens per minute"));
    await user.clear(field("Budget (USD)"));
    await user.type(field("Budget (USD)"), "25");
    await user.click(within(dialog).getByRole("button", { name: "Save quota" }));
    expect(await within(dialog).findByText("must be at most 1000000")).toBeInTheDocument();
    expect(field("Budget (USD)")).toHaveAttribute("aria-invalid", "true");
    await user.click(within(dialog).getByRole("button", { name: "Save quota" }));
    expect(await screen.findByText("bob's claude-3-5-sonnet has its new quota.")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "PUT").map((c) => c.body)).toEqual([
      { quota: { max_budget: "25", budget_duration: "30d", tpm_limit: null, rpm_limit: null } },
      { quota: { max_budget: "25", budget_duration: "30d", tpm_limit: null, rpm_limit: null } },
    ]);
  });
});
