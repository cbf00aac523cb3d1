import { describe, expect, it } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { App } from "./App";
import { config, fakeApi, problem, renderPage, seriousViolations } from "./test/render";

const me = (roles: string[]) => ({
  user: { id: "u1", username: "alice", email: null, display_name: "Alice", roles, status: "active" },
  csrf_token: "csrf-abc",
  auth: "session",
  session_expires_at: null,
});

describe("signing in", () => {
  it("shows the login page with SSO and the development login under its banner", async () => {
    fakeApi({
      "GET /api/v1/config": { body: { ...config, oidc_enabled: true } },
      "GET /api/v1/me": problem(401, "unauthenticated", "sign in"),
    });
    renderPage(<App />, "/keys");
    expect(await screen.findByRole("heading", { name: "Sign in to keyport" })).toBeInTheDocument();
    expect(screen.getByText(/Development login is enabled/)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Sign in with single sign-on" })).toHaveAttribute(
      "href",
      "/api/v1/auth/login?return_to=%2Fkeys",
    );
    expect(await seriousViolations()).toEqual([]);
  });

  it("says why single sign-on failed when the server sends the browser back with an error", async () => {
    fakeApi({
      "GET /api/v1/config": { body: { ...config, dev_login: false, oidc_enabled: true } },
      "GET /api/v1/me": problem(401, "unauthenticated", "sign in"),
    });
    renderPage(<App />, "/login?error=login-forbidden");
    expect(await screen.findByText(/Your account may not use keyport/)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Sign in with single sign-on" })).toHaveAttribute(
      "href",
      "/api/v1/auth/login?return_to=%2F",
    );
    expect(await seriousViolations()).toEqual([]);
  });

  it("hides the development login when the server has it off", async () => {
    fakeApi({
      "GET /api/v1/config": { body: { ...config, dev_login: false, oidc_enabled: true } },
      "GET /api/v1/me": problem(401, "unauthenticated", "sign in"),
    });
    renderPage(<App />);
    await screen.findByRole("heading", { name: "Sign in to keyport" });
    expect(screen.queryByText(/Development login/)).toBeNull();
  });

  it("validates the development login, then signs in and opens the portal", async () => {
    let signedIn = false;
    const calls = fakeApi({
      "GET /api/v1/config": { body: config },
      "GET /api/v1/me": () => (signedIn ? { body: me(["user"]) } : problem(401, "unauthenticated", "sign in")),
      "POST /api/v1/auth/dev-login": () => {
        signedIn = true;
        return { body: me(["user", "admin"]) };
      },
      "GET /api/v1/models": { body: { items: [] } },
      "GET /api/v1/subscriptions": { body: { items: [] } },
    });
    const user = userEvent.setup();
    renderPage(<App />, "/models");
    await user.click(await screen.findByRole("button", { name: "Sign in (development)" }));
    expect(screen.getByText(/Enter a username/)).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await user.type(screen.getByLabelText(/^Username/), "alice");
    await user.selectOptions(screen.getByLabelText("Role"), "admin");
    await user.click(screen.getByRole("button", { name: "Sign in (development)" }));
    expect(await screen.findByRole("heading", { name: "Model catalog" })).toBeInTheDocument();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ username: "alice", role: "admin" });
    expect(screen.getByTestId("signed-in-as")).toHaveTextContent("Alice");
    expect(screen.getByRole("link", { name: "Jobs" })).toBeInTheDocument();
  });

  it("shows the administration pages to admins and auditors only", async () => {
    fakeApi({
      "GET /api/v1/config": { body: config },
      "GET /api/v1/me": { body: me(["user"]) },
      "GET /api/v1/admin/jobs": { body: { pending: 0, running: 0, dead: 0, items: [] } },
    });
    renderPage(<App />, "/admin/jobs");
    expect(await screen.findByRole("heading", { name: "Page not found" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Jobs" })).toBeNull();
  });

  it("shows the auditor the oversight pages", async () => {
    fakeApi({
      "GET /api/v1/config": { body: config },
      "GET /api/v1/me": { body: me(["user", "auditor"]) },
      "GET /api/v1/admin/jobs": { body: { pending: 2, running: 0, dead: 1, items: [] } },
    });
    renderPage(<App />, "/admin/jobs");
    expect(await screen.findByRole("heading", { name: "Jobs" })).toBeInTheDocument();
    expect(screen.getByText("Oversight (read-only)")).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText("No dead jobs")).toBeInTheDocument());
    expect(await seriousViolations()).toEqual([]);
  });

  it("gives admins the administration group, its pages loaded on first use", async () => {
    fakeApi({
      "GET /api/v1/config": { body: config },
      "GET /api/v1/me": { body: me(["user", "admin"]) },
      "GET /api/v1/admin/users": { body: { items: [] } },
    });
    renderPage(<App />, "/admin/users");
    expect(await screen.findByRole("heading", { name: "Users" }, { timeout: 5000 })).toBeInTheDocument();
    expect(screen.getByText("Administration")).toBeInTheDocument();
    for (const name of ["Users", "Approvals", "Models", "All keys", "Settings", "Audit log", "Jobs"])
      expect(screen.getByRole("link", { name })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Users" })).toHaveAttribute("aria-current", "page");
    expect(await screen.findByText("No users found")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });
});
