import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { UsersPage } from "./UsersPage";
import { UserDetailPage } from "./UserDetailPage";
import { KeysAdminPage } from "./KeysAdminPage";
import { apiKey, fakeApi, problem, renderPage, seriousViolations } from "../../test/render";
import { ADMIN, AUDITOR, adminSubscription, adminUser, userDetail } from "./fixtures";

const BOB = adminUser();
const detailPage = (
  <Routes>
    <Route path="/admin/users/:id" element={<UserDetailPage />} />
  </Routes>
);
const bobsKey = apiKey({ user_id: BOB.id, owner_username: "bob" });
const userRoutes = (over: Record<string, unknown> = {}) => ({
  [`GET /api/v1/admin/users/${BOB.id}`]: { body: userDetail() },
  [`GET /api/v1/admin/users/${BOB.id}/access-tokens`]: { body: { items: [] } },
  "GET /api/v1/admin/api-keys": { body: { items: [bobsKey] } },
  "GET /api/v1/admin/subscriptions": { body: { items: [adminSubscription({ status: "active" })] } },
  ...over,
});

describe("the users page", () => {
  it("lists users, searches and pages on", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/users": ({ path }) =>
        path.includes("cursor=c1")
          ? { body: { items: [adminUser({ id: "00000000-0000-7000-8000-0000000000b2", username: "carol" })] } }
          : { body: { items: [BOB], next_cursor: "c1" } },
    });
    const user = userEvent.setup();
    renderPage(<UsersPage />);
    expect(screen.getByLabelText("Loading the users")).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "bob" })).toHaveAttribute("href", `/admin/users/${BOB.id}`);
    expect(await seriousViolations()).toEqual([]);
    await user.click(screen.getByRole("button", { name: "Load more" }));
    expect(await screen.findByRole("link", { name: "carol" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "bob" })).toBeInTheDocument();
    await user.type(screen.getByRole("textbox", { name: "Search users" }), "bo{Enter}");
    await user.selectOptions(screen.getByLabelText("Role"), "admin");
    await waitFor(() => expect(calls.some((c) => c.path.includes("q=bo") && c.path.includes("role=admin"))).toBe(true));
  });

  it("shows an empty view when nobody is found", async () => {
    fakeApi({ ...ADMIN, "GET /api/v1/admin/users": { body: { items: [] } } });
    renderPage(<UsersPage />);
    expect(await screen.findByText("No users found")).toBeInTheDocument();
  });

  it("shows the server's problem when the users cannot be read", async () => {
    fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/users": problem(422, "validation", "q is at most 100 characters", [{ field: "q", message: "too long" }]),
    });
    renderPage(<UsersPage />);
    expect(await screen.findByText("q is at most 100 characters")).toBeInTheDocument();
  });
});

describe("a user's page", () => {
  it("changes roles and shows the server's objection on them", async () => {
    let attempt = 0;
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes(),
      [`PATCH /api/v1/admin/users/${BOB.id}`]: () =>
        (attempt += 1) === 1
          ? problem(409, "conflict", "no active administrator would remain", [{ field: "roles", message: "no active administrator would remain" }])
          : { body: { ...BOB, roles: ["user", "auditor"] } },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    expect(await screen.findByRole("heading", { name: "Bob" })).toBeInTheDocument();
    expect(screen.getByText("1 live of 3")).toBeInTheDocument();
    expect(await screen.findByText("sk-kp-AbC123…")).toBeInTheDocument();
    expect(await screen.findByText("claude-3-5-sonnet")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
    expect(screen.getByRole("button", { name: "Save roles" })).toBeDisabled();
    await user.click(screen.getByLabelText("Auditor"));
    await user.click(screen.getByRole("button", { name: "Save roles" }));
    expect(await screen.findAllByText("no active administrator would remain")).not.toHaveLength(0);
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ roles: ["user", "auditor"] });
    await user.click(screen.getByRole("button", { name: "Save roles" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH")).toHaveLength(2));
  });

  it("suspends after confirming, and revokes a key after confirming", async () => {
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes(),
      [`POST /api/v1/admin/users/${BOB.id}/suspend`]: { body: { ...BOB, status: "suspended" } },
      [`POST /api/v1/admin/api-keys/${bobsKey.id}/revoke`]: { body: { ...bobsKey, status: "revoked" } },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "Suspend" }));
    const dialog = await screen.findByRole("dialog", { name: /Suspend bob\?/ });
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await user.click(within(dialog).getByRole("button", { name: "Suspend" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual([`/api/v1/admin/users/${BOB.id}/suspend`]);
    await user.click(await screen.findByRole("button", { name: "Revoke bob's key ci-pipeline" }));
    const revoke = await screen.findByRole("dialog", { name: /Revoke bob's key ci-pipeline\?/ });
    await user.click(within(revoke).getByRole("button", { name: "Revoke" }));
    await waitFor(() =>
      expect(calls.some((c) => c.method === "POST" && c.path === `/api/v1/admin/api-keys/${bobsKey.id}/revoke`)).toBe(true),
    );
  });

  it("grants a subscription, refusing to send without a model and showing the server's objection", async () => {
    let attempt = 0;
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes(),
      "GET /api/v1/models": { body: { items: [{ id: "claude-3-5-sonnet", display_name: "Claude 3.5 Sonnet", restricted: true }] } },
      "POST /api/v1/admin/subscriptions": () =>
        (attempt += 1) === 1
          ? problem(409, "conflict", "bob already has an active subscription", [
              { field: "model_id", message: "already active for this user" },
            ])
          : { status: 201, body: adminSubscription({ status: "active" }) },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "Grant" }));
    expect(screen.getByText("Choose a model.")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await user.selectOptions(await screen.findByLabelText("Grant a subscription to"), "claude-3-5-sonnet");
    await user.click(screen.getByRole("button", { name: "Grant" }));
    expect(await screen.findByText("already active for this user")).toBeInTheDocument();
    expect(screen.getByLabelText("Grant a subscription to")).toHaveAttribute("aria-invalid", "true");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ user_id: BOB.id, model_id: "claude-3-5-sonnet" });
    await user.click(screen.getByRole("button", { name: "Grant" }));
    expect(await screen.findByText("Granted claude-3-5-sonnet.")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows auditors the user without roles form, suspension or revocation", async () => {
    fakeApi({ ...AUDITOR, ...userRoutes() });
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    expect(await screen.findByRole("heading", { name: "Bob" })).toBeInTheDocument();
    expect(await screen.findByText("sk-kp-AbC123…")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText(/Read-only: auditors/)).toBeInTheDocument());
    expect(screen.queryByRole("button", { name: /Save roles|Suspend|Revoke|Grant/ })).toBeNull();
    expect(screen.queryByRole("checkbox")).toBeNull();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows the subscription's history", async () => {
    const sub = adminSubscription({ status: "active" });
    fakeApi({
      ...AUDITOR,
      ...userRoutes(),
      [`GET /api/v1/admin/subscriptions/${sub.id}/history`]: {
        body: {
          items: [
            { from_status: null, to_status: "pending", reason: null, actor_id: BOB.id, at: "2026-01-02T10:00:00Z" },
            { from_status: "pending", to_status: "active", reason: "approved", actor_id: null, at: "2026-01-02T11:00:00Z" },
          ],
        },
      },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "History of claude-3-5-sonnet" }));
    const dialog = await screen.findByRole("dialog", { name: "History of bob's claude-3-5-sonnet" });
    expect(await within(dialog).findByText("approved")).toBeInTheDocument();
  });

  it("shows the server's problem for an unknown user", async () => {
    fakeApi({ ...ADMIN, [`GET /api/v1/admin/users/${BOB.id}`]: problem(404, "not-found", "no such user") });
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    expect(await screen.findByText("no such user")).toBeInTheDocument();
  });
});

describe("all keys", () => {
  it("lists everybody's keys with their owners and filters by status", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/api-keys": { body: { items: [bobsKey, apiKey({ id: "k2", name: "old", status: "revoked", owner_username: "carol", user_id: "u2" })] } },
    });
    const user = userEvent.setup();
    renderPage(<KeysAdminPage />);
    expect(await screen.findByRole("link", { name: "carol" })).toBeInTheDocument();
    expect(screen.getAllByRole("button", { name: /^Revoke/ })).toHaveLength(1);
    expect(await seriousViolations()).toEqual([]);
    await user.selectOptions(screen.getByLabelText("Key status"), "revoked");
    await waitFor(() => expect(calls.some((c) => c.path.includes("status=revoked"))).toBe(true));
  });
});
