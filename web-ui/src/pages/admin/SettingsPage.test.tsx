import { describe, expect, it } from "vitest";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { SettingsPage } from "./SettingsPage";
import { fakeApi, problem, renderPage, seriousViolations } from "../../test/render";
import { ADMIN, AUDITOR, settings } from "./fixtures";

const group = (name: string) => screen.getByRole("group", { name });

describe("the settings page", () => {
  it("shows the settings in force and saves them all", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/settings": { body: settings() },
      "PUT /api/v1/admin/settings": ({ body }) => ({ body: { ...(body as object), source: "stored" } }),
    });
    const user = userEvent.setup();
    renderPage(<SettingsPage />);
    expect(screen.getByLabelText("Loading the settings")).toBeInTheDocument();
    expect(await screen.findByText("from the server's configuration")).toBeInTheDocument();
    expect(screen.getByLabelText("Default key lifetime (days)")).toHaveValue("90");
    expect(await seriousViolations()).toEqual([]);
    const { getByLabelText } = within(group("Most any key may have"));
    await user.clear(getByLabelText("Tokens per minute"));
    await user.type(getByLabelText("Tokens per minute"), "5000");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByText("Settings saved.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({
      subscription_max_quota: { max_budget: "100.00", budget_duration: "30d", tpm_limit: null, rpm_limit: null },
      key_default_limits: { max_budget: "5.00", budget_duration: "30d", tpm_limit: null, rpm_limit: 10 },
      key_max_limits: { max_budget: "50.00", budget_duration: null, tpm_limit: 5000, rpm_limit: 100 },
      key_default_lifetime_days: 90,
      key_max_lifetime_days: 365,
    });
  });

  it("refuses defaults above the maximums before sending, and shows the server's field errors", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/settings": { body: settings() },
      "PUT /api/v1/admin/settings": problem(422, "validation", "the settings are not valid", [
        { field: "subscription_max_quota.rpm_limit", message: "must be between 1 and 2147483646" },
      ]),
    });
    const user = userEvent.setup();
    renderPage(<SettingsPage />);
    await screen.findByText("from the server's configuration");
    const defaults = within(group("Limits the key forms prefill"));
    await user.clear(defaults.getByLabelText("Requests per minute"));
    await user.type(defaults.getByLabelText("Requests per minute"), "500");
    await user.clear(screen.getByLabelText("Default key lifetime (days)"));
    await user.type(screen.getByLabelText("Default key lifetime (days)"), "400");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(defaults.getByText("Above the maximum for keys (100).")).toBeInTheDocument();
    expect(screen.getByText("Longer than the longest lifetime (365 days).")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "PUT")).toBe(false);
    await user.clear(defaults.getByLabelText("Requests per minute"));
    await user.clear(screen.getByLabelText("Default key lifetime (days)"));
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    const quota = within(group("Most quota of a new subscription"));
    expect(await quota.findByText("must be between 1 and 2147483646")).toBeInTheDocument();
    expect(quota.getByLabelText("Requests per minute")).toHaveAttribute("aria-invalid", "true");
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows auditors the settings read-only", async () => {
    fakeApi({ ...AUDITOR, "GET /api/v1/admin/settings": { body: settings({ source: "stored" }) } });
    renderPage(<SettingsPage />);
    expect(await screen.findByText("saved by an administrator")).toBeInTheDocument();
    expect(await screen.findByText(/Read-only: auditors/)).toBeInTheDocument();
    expect(screen.getByLabelText("Default key lifetime (days)")).toHaveAttribute("readonly");
    expect(screen.queryByRole("button", { name: "Save settings" })).toBeNull();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows the server's problem when the settings cannot be read", async () => {
    fakeApi({ ...ADMIN, "GET /api/v1/admin/settings": problem(403, "forbidden", "administrators and auditors only") });
    renderPage(<SettingsPage />);
    expect(await screen.findByText("administrators and auditors only")).toBeInTheDocument();
  });
});
