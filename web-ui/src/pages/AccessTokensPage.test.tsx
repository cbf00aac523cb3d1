import { describe, expect, it } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { AccessTokensPage } from "./AccessTokensPage";
import { fakeApi, problem, renderPage, seriousViolations } from "../test/render";
import { ADMIN, meAs } from "./admin/fixtures";

const created = {
  id: "00000000-0000-7000-8000-0000000000c1",
  name: "ops",
  prefix: "kp_pat_AbC12",
  scopes: ["read", "admin"],
  expires_at: "2026-04-01T00:00:00Z",
  last_used_at: null,
  created_at: "2026-01-01T00:00:00Z",
  revoked_at: null,
  status: "active",
  secret: "kp_pat_SECRETsecretSECRETsecretSECRETse12ab34",
};

describe("the access tokens page", () => {
  it("offers the admin scope only to administrators and auditors", async () => {
    fakeApi({
      "GET /api/v1/me": { body: meAs(["user"]) },
      "GET /api/v1/access-tokens": { body: { items: [] } },
    });
    const user = userEvent.setup();
    renderPage(<AccessTokensPage />);
    await screen.findByText("No access tokens");
    await user.click(screen.getByRole("button", { name: "Create access token" }));
    expect(await screen.findByLabelText("write: every request")).toBeInTheDocument();
    expect(screen.queryByLabelText(/admin: use your administrator/)).not.toBeInTheDocument();
  });

  it("lets an administrator give a token their role", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/access-tokens": { body: { items: [] } },
      "POST /api/v1/access-tokens": { status: 201, body: created },
    });
    const user = userEvent.setup();
    renderPage(<AccessTokensPage />);
    await screen.findByText("No access tokens");
    await user.click(screen.getByRole("button", { name: "Create access token" }));
    await user.type(screen.getByRole("textbox", { name: /name/i }), "ops");
    await user.click(await screen.findByLabelText(/admin: use your administrator/));
    await user.click(screen.getByRole("button", { name: "Create token" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    const sent = calls.find((c) => c.method === "POST");
    expect(sent?.body).toMatchObject({ name: "ops", scopes: ["read", "admin"] });
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows the server's objection to the expiry on the expiry field", async () => {
    const calls = fakeApi({
      "GET /api/v1/me": { body: meAs(["user"]) },
      "GET /api/v1/access-tokens": { body: { items: [] } },
      "POST /api/v1/access-tokens": problem(422, "validation", "the token is not valid", [
        { field: "expires_in_days", message: "tokens must expire here, within 30 days" },
      ]),
    });
    const user = userEvent.setup();
    renderPage(<AccessTokensPage />);
    await screen.findByText("No access tokens");
    await user.click(screen.getByRole("button", { name: "Create access token" }));
    await user.type(screen.getByRole("textbox", { name: /name/i }), "ci");
    const days = screen.getByRole("textbox", { name: "Expires after (days)" });
    await user.clear(days);
    await user.click(screen.getByRole("button", { name: "Create token" }));
    await waitFor(() => expect(days).toHaveAttribute("aria-invalid", "true"));
    expect(days).toHaveAccessibleDescription(/^tokens must expire here, within 30 days/);
    expect(calls.find((c) => c.method === "POST")?.body).toMatchObject({ name: "ci", expires_in_days: null });
    expect(screen.getByRole("textbox", { name: /name/i })).toHaveAttribute("aria-invalid", "false");
    expect(await seriousViolations()).toEqual([]);
  });
});
