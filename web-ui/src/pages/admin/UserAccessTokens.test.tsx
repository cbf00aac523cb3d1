import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { Route, Routes } from "react-router";
import { UserDetailPage } from "./UserDetailPage";
import { fakeApi, problem, renderPage, seriousViolations } from "../../test/render";
import { ADMIN, AUDITOR, adminUser, userDetail } from "./fixtures";

const BOB = adminUser();
const detailPage = (
  <Routes>
    <Route path="/admin/users/:id" element={<UserDetailPage />} />
  </Routes>
);

const token = (over: Record<string, unknown> = {}) => ({
  id: "00000000-0000-7000-8000-0000000000c1",
  name: "ci",
  prefix: "kp_pat_AbC12",
  scopes: ["read", "write"],
  expires_at: "2026-04-01T00:00:00Z",
  last_used_at: "2026-01-04T09:30:00Z",
  created_at: "2026-01-01T00:00:00Z",
  revoked_at: null,
  status: "active",
  ...over,
});
const CI = token();
const OLD = token({
  id: "00000000-0000-7000-8000-0000000000c2",
  name: "laptop",
  prefix: "kp_pat_XyZ98",
  scopes: ["read"],
  expires_at: null,
  last_used_at: null,
  revoked_at: "2026-01-02T00:00:00Z",
  status: "revoked",
});
const STALE = token({
  id: "00000000-0000-7000-8000-0000000000c3",
  name: "backup",
  prefix: "kp_pat_Qrs45",
  scopes: ["read", "admin"],
  expires_at: "2025-12-01T00:00:00Z",
  status: "expired",
});
const TOKENS = `/api/v1/admin/users/${BOB.id}/access-tokens`;
const REVOKE = `${TOKENS}/${CI.id}/revoke`;

const userRoutes = (tokens: unknown) => ({
  [`GET /api/v1/admin/users/${BOB.id}`]: { body: userDetail() },
  "GET /api/v1/admin/api-keys": { body: { items: [] } },
  "GET /api/v1/admin/subscriptions": { body: { items: [] } },
  [`GET ${TOKENS}`]: typeof tokens === "function" ? tokens : { body: { items: tokens } },
});

const tokensTable = () => screen.findByRole("grid", { name: "The user's access tokens" });
const row = (name: string) => screen.getByRole("row", { name: new RegExp(`^${name} `) });

describe("a user's personal access tokens", () => {
  it("lists the tokens for an auditor, without revoke buttons", async () => {
    fakeApi({ ...AUDITOR, ...userRoutes([CI, OLD, STALE]) });
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    expect(await screen.findByRole("heading", { name: "Personal access tokens" })).toBeInTheDocument();
    const table = await tokensTable();
    expect(within(table).getAllByRole("row")).toHaveLength(4);
    expect(within(row("ci")).getByText("kp_pat_AbC12…")).toBeInTheDocument();
    expect(within(row("ci")).getByText("read, write")).toBeInTheDocument();
    expect(within(row("ci")).getByText("active")).toBeInTheDocument();
    expect(within(row("laptop")).getByText("revoked")).toBeInTheDocument();
    expect(within(row("laptop")).getAllByText("never")).toHaveLength(2); // no expiry, never used
    expect(within(row("backup")).getByText("expired")).toBeInTheDocument();
    expect(within(row("backup")).getByText("read, admin")).toBeInTheDocument();
    await screen.findByText(/Read-only: auditors/);
    expect(screen.queryByRole("button", { name: /Revoke/ })).toBeNull();
    expect(within(table).queryAllByRole("button")).toHaveLength(0);
    expect(await seriousViolations()).toEqual([]);
  });

  it("lets an administrator revoke a live token, and reads the list again", async () => {
    let revoked = false;
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes(() => ({
        body: { items: revoked ? [token({ status: "revoked", revoked_at: "2026-01-05T00:00:00Z" }), OLD] : [CI, OLD] },
      })),
      [`POST ${REVOKE}`]: () => {
        revoked = true;
        return { body: token({ status: "revoked", revoked_at: "2026-01-05T00:00:00Z" }) };
      },
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await tokensTable();
    // Only the live token can be revoked.
    await waitFor(() => expect(screen.getByRole("button", { name: "Revoke bob's token ci" })).toBeInTheDocument());
    expect(screen.queryByRole("button", { name: "Revoke bob's token laptop" })).toBeNull();
    expect(await seriousViolations()).toEqual([]);

    await user.click(screen.getByRole("button", { name: "Revoke bob's token ci" }));
    const dialog = await screen.findByRole("dialog", { name: /Revoke bob's token ci\?$/ });
    expect(dialog).toHaveTextContent("kp_pat_AbC12…");
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    expect(await seriousViolations()).toEqual([]);
    const listed = calls.filter((c) => c.method === "GET" && c.path === TOKENS).length;
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));

    expect(await screen.findByText("bob's token ci is revoked.")).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const posts = calls.filter((c) => c.method === "POST");
    expect(posts.map((c) => c.path)).toEqual([REVOKE]);
    expect(posts[0]?.headers.get("X-CSRF-Token")).toBe("csrf-abc");
    await waitFor(() => expect(calls.filter((c) => c.method === "GET" && c.path === TOKENS).length).toBeGreaterThan(listed));
    await waitFor(() => expect(within(row("ci")).getByText("revoked")).toBeInTheDocument());
    expect(screen.queryByRole("button", { name: /^Revoke bob's token/ })).toBeNull();
  });

  it("shows the server's problem when the token is no live token of that user any more", async () => {
    const calls = fakeApi({
      ...ADMIN,
      ...userRoutes([CI]),
      [`POST ${REVOKE}`]: problem(404, "not-found", "no such live access token of this user"),
    });
    const user = userEvent.setup();
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    await user.click(await screen.findByRole("button", { name: "Revoke bob's token ci" }));
    const dialog = await screen.findByRole("dialog", { name: /Revoke bob's token ci\?$/ });
    await user.click(within(dialog).getByRole("button", { name: "Revoke" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent("no such live access token of this user");
    expect(within(dialog).getByText("Revoke failed")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual([REVOKE]);
    expect(screen.queryByText(/is revoked\./)).toBeNull();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows the server's problem when the tokens cannot be read", async () => {
    fakeApi({ ...ADMIN, ...userRoutes(() => problem(403, "forbidden", "administrators and auditors only")) });
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    expect(await screen.findByText("Could not load the access tokens")).toBeInTheDocument();
    expect(screen.getByText("administrators and auditors only")).toBeInTheDocument();
  });

  it("says so when the user has no tokens", async () => {
    fakeApi({ ...ADMIN, ...userRoutes([]) });
    renderPage(detailPage, `/admin/users/${BOB.id}`);
    expect(await screen.findByText("No access tokens")).toBeInTheDocument();
  });
});
