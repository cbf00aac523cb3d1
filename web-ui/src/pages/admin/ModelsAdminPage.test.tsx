import { describe, expect, it } from "vitest";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ModelsAdminPage } from "./ModelsAdminPage";
import { fakeApi, model, problem, renderPage, seriousViolations } from "../../test/render";
import { ADMIN, AUDITOR } from "./fixtures";

const SONNET = model({ id: "claude-3-5-sonnet", display_name: "Claude 3.5 Sonnet", provider: "anthropic" });

describe("the models page", () => {
  it("marks a model restricted with one PATCH", async () => {
    let restricted = false;
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/models": () => ({ body: { items: [model(), { ...SONNET, restricted }] } }),
      "PATCH /api/v1/admin/models/claude-3-5-sonnet": ({ body }) => {
        restricted = true;
        return { body: { model: { ...SONNET, ...(body as object) }, approved_subscription_ids: [] } };
      },
    });
    const user = userEvent.setup();
    renderPage(<ModelsAdminPage />);
    expect(screen.getByLabelText("Loading the models")).toBeInTheDocument();
    const toggle = await screen.findByRole("switch", { name: "Restricted: claude-3-5-sonnet" });
    expect(toggle).not.toBeChecked();
    expect(await seriousViolations()).toEqual([]);
    await user.click(toggle);
    expect(await screen.findByText("Claude 3.5 Sonnet saved.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ restricted: true });
    expect(await screen.findByRole("switch", { name: "Restricted: claude-3-5-sonnet" })).toBeChecked();
  });

  it("asks before opening a restricted model, and says how many requests that approved", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/models": { body: { items: [{ ...SONNET, restricted: true }] } },
      "PATCH /api/v1/admin/models/claude-3-5-sonnet": {
        body: { model: SONNET, approved_subscription_ids: ["a", "b"] },
      },
    });
    const user = userEvent.setup();
    renderPage(<ModelsAdminPage />);
    await user.click(await screen.findByRole("switch", { name: "Restricted: claude-3-5-sonnet" }));
    const dialog = await screen.findByRole("dialog", { name: /Open Claude 3.5 Sonnet/ });
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
    await user.click(within(dialog).getByRole("button", { name: "Open the model" }));
    expect(await screen.findByText("Claude 3.5 Sonnet saved. 2 pending requests were approved.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ restricted: false });
  });

  it("checks the edit form before sending and shows the server's field errors", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/models": { body: { items: [SONNET] } },
      "PATCH /api/v1/admin/models/claude-3-5-sonnet": problem(422, "validation", "the change is not valid", [
        { field: "default_quota.max_budget", message: "above the maximum of 100.00" },
      ]),
    });
    const user = userEvent.setup();
    renderPage(<ModelsAdminPage />);
    await user.click(await screen.findByRole("button", { name: "Edit claude-3-5-sonnet" }));
    const dialog = await screen.findByRole("dialog", { name: "Edit claude-3-5-sonnet" });
    await user.clear(within(dialog).getByLabelText(/^Display name/));
    await user.clear(within(dialog).getByLabelText("Requests per minute"));
    await user.type(within(dialog).getByLabelText("Requests per minute"), "0");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    expect(within(dialog).getByText("Give the model a name.")).toBeInTheDocument();
    expect(within(dialog).getByText(/Enter a whole number from 1/)).toBeInTheDocument();
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
    await user.type(within(dialog).getByLabelText(/^Display name/), "Sonnet");
    await user.clear(within(dialog).getByLabelText("Requests per minute"));
    await user.clear(within(dialog).getByLabelText("Budget (USD)"));
    await user.type(within(dialog).getByLabelText("Budget (USD)"), "500");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    expect(await within(dialog).findByText("above the maximum of 100.00")).toBeInTheDocument();
    expect(within(dialog).getByLabelText("Budget (USD)")).toHaveAttribute("aria-invalid", "true");
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({
      display_name: "Sonnet",
      default_quota: { max_budget: "500", budget_duration: "30d", tpm_limit: 10000, rpm_limit: null },
    });
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows auditors the flags without switches or edits", async () => {
    fakeApi({ ...AUDITOR, "GET /api/v1/models": { body: { items: [{ ...SONNET, restricted: true }] } } });
    renderPage(<ModelsAdminPage />);
    expect(await screen.findByText("restricted")).toBeInTheDocument();
    expect(await screen.findByText(/Read-only: auditors/)).toBeInTheDocument();
    expect(screen.queryByRole("switch")).toBeNull();
    expect(screen.queryByRole("button", { name: /Edit/ })).toBeNull();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows the server's problem when the models cannot be read", async () => {
    fakeApi({ ...ADMIN, "GET /api/v1/models": problem(500, "internal", "something broke (request 7d0e)") });
    renderPage(<ModelsAdminPage />);
    expect(await screen.findByText("something broke (request 7d0e)")).toBeInTheDocument();
  });
});
