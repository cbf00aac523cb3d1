import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { SettingsPage } from "./SettingsPage";
import { fakeApi, problem, renderPage, seriousViolations, type Call } from "../../test/render";
import { ADMIN, AUDITOR, settings } from "./fixtures";

const group = (name: string) => screen.getByRole("group", { name });

/** An administrator's API that answers the settings, and a saving of them with what was sent, now stored. */
const savingApi = () => ({
  ...ADMIN,
  "GET /api/v1/admin/settings": { body: settings() },
  "PUT /api/v1/admin/settings": ({ body }: Call) => ({
    body: { ...(body as object), source: "stored", available_routes: settings().available_routes },
  }),
});

describe("the settings page", () => {
  it("shows the settings in force and saves them all", async () => {
    const calls = fakeApi(savingApi());
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
      max_live_keys_per_user: 20,
      token_max_lifetime_days: 90,
      allowed_routes: ["/chat/completions", "/v1/chat/completions", "/embeddings", "/v1/embeddings"],
    });
  });

  it("saves the most live keys per user and the routes keys may call, in the order offered", async () => {
    const calls = fakeApi(savingApi());
    const user = userEvent.setup();
    renderPage(<SettingsPage />);
    await screen.findByText("from the server's configuration");
    const keysField = screen.getByLabelText("Most live keys per user");
    expect(keysField).toHaveValue("20");
    const routes = within(group("Routes keys may call"));
    expect(routes.getAllByRole("checkbox")).toHaveLength(8);
    expect(routes.getByRole("checkbox", { name: "/v1/chat/completions" })).toBeChecked();
    expect(routes.getByRole("checkbox", { name: "/v1/models" })).not.toBeChecked();
    expect(screen.getByText(/Keys get these routes on their next change/)).toHaveTextContent(/management routes never are/);
    expect(await seriousViolations()).toEqual([]);

    // Nothing is sent while the number is out of range or no route is left.
    await user.clear(keysField);
    await user.type(keysField, "1001");
    for (const route of ["/chat/completions", "/v1/chat/completions", "/embeddings", "/v1/embeddings"])
      await user.click(routes.getByRole("checkbox", { name: route }));
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(screen.getByText("A whole number from 1 to 1000.")).toBeInTheDocument();
    expect(keysField).toHaveAttribute("aria-invalid", "true");
    expect(routes.getByText("Choose at least one route.")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "PUT")).toBe(false);

    await user.clear(keysField);
    await user.type(keysField, "5");
    await user.click(routes.getByRole("checkbox", { name: "/v1/models" }));
    await user.click(routes.getByRole("checkbox", { name: "/v1/chat/completions" }));
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByText("Settings saved.")).toBeInTheDocument();
    const sent = calls.find((c) => c.method === "PUT")?.body as Record<string, unknown>;
    expect(sent.max_live_keys_per_user).toBe(5);
    expect(sent.allowed_routes).toEqual(["/v1/chat/completions", "/v1/models"]);
    expect(screen.getByText("saved by an administrator")).toBeInTheDocument();
  });

  it("shows the server's objections to the keys' settings on their fields", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/settings": { body: settings() },
      "PUT /api/v1/admin/settings": problem(422, "validation", "the settings are not valid", [
        { field: "max_live_keys_per_user", message: "must be between 1 and 1000" },
        { field: "allowed_routes[2]", message: "not one of LiteLLM's inference routes" },
      ]),
    });
    const user = userEvent.setup();
    renderPage(<SettingsPage />);
    await screen.findByText("from the server's configuration");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    const keysField = screen.getByLabelText("Most live keys per user");
    await waitFor(() => expect(keysField).toHaveAttribute("aria-invalid", "true"));
    expect(document.getElementById("max_live_keys_per_user-help")).toHaveTextContent("must be between 1 and 1000");
    // The third route sent, named on the routes' group.
    const routes = within(group("Routes keys may call"));
    expect(routes.getByText("/embeddings: not one of LiteLLM's inference routes")).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("the settings are not valid");
    expect((calls.find((c) => c.method === "PUT")?.body as { allowed_routes: string[] }).allowed_routes[2]).toBe(
      "/embeddings",
    );
    expect(await seriousViolations()).toEqual([]);
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

  it("saves the longest token lifetime, empty as no maximum, and shows the server's objection on it", async () => {
    let refuse = false;
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/settings": { body: settings() },
      "PUT /api/v1/admin/settings": ({ body }) =>
        refuse
          ? problem(422, "validation", "the settings are not valid", [
              { field: "token_max_lifetime_days", message: "must be between 1 and 366" },
            ])
          : { body: { ...(body as object), source: "stored", available_routes: settings().available_routes } },
    });
    const sent = () => calls.filter((c) => c.method === "PUT").map((c) => c.body as Record<string, unknown>);
    const user = userEvent.setup();
    renderPage(<SettingsPage />);
    await screen.findByText("from the server's configuration");
    const field = within(group("Access tokens")).getByLabelText("Longest token lifetime (days)");
    expect(field).toHaveValue("90");
    expect(await seriousViolations()).toEqual([]);

    // Out of range: refused here, nothing sent.
    await user.clear(field);
    await user.type(field, "367");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(screen.getByText("Between 1 and 366 days, or empty for no maximum.")).toBeInTheDocument();
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(calls.some((c) => c.method === "PUT")).toBe(false);

    await user.clear(field);
    await user.type(field, "30");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    expect(await screen.findByText("Settings saved.")).toBeInTheDocument();
    expect(sent()[0]).toHaveProperty("token_max_lifetime_days", 30);

    // Empty is sent as null: no maximum.
    await user.clear(field);
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(sent()).toHaveLength(2));
    expect(sent()[1]).toHaveProperty("token_max_lifetime_days", null);

    refuse = true;
    await user.type(field, "12");
    await user.click(screen.getByRole("button", { name: "Save settings" }));
    await waitFor(() => expect(field).toHaveAttribute("aria-invalid", "true"));
    expect(document.getElementById("token_max_lifetime_days-help")).toHaveTextContent("must be between 1 and 366");
    expect(field).toHaveAccessibleDescription(/^must be between 1 and 366/);
    expect(screen.getByRole("alert")).toHaveTextContent("the settings are not valid");
    expect(sent()[2]).toHaveProperty("token_max_lifetime_days", 12);
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows auditors the settings read-only", async () => {
    fakeApi({ ...AUDITOR, "GET /api/v1/admin/settings": { body: settings({ source: "stored" }) } });
    renderPage(<SettingsPage />);
    expect(await screen.findByText("saved by an administrator")).toBeInTheDocument();
    expect(await screen.findByText(/Read-only: auditors/)).toBeInTheDocument();
    expect(screen.getByLabelText("Default key lifetime (days)")).toHaveAttribute("readonly");
    expect(screen.getByLabelText("Most live keys per user")).toHaveAttribute("readonly");
    expect(screen.getByLabelText("Longest token lifetime (days)")).toHaveAttribute("readonly");
    expect(screen.getByLabelText("Longest token lifetime (days)")).toHaveValue("90");
    const routes = within(group("Routes keys may call")).getAllByRole("checkbox");
    expect(routes.every((box) => (box as HTMLInputElement).disabled)).toBe(true);
    expect(screen.getByRole("checkbox", { name: "/v1/embeddings" })).toBeChecked();
    expect(screen.queryByRole("button", { name: "Save settings" })).toBeNull();
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows the server's problem when the settings cannot be read", async () => {
    fakeApi({ ...ADMIN, "GET /api/v1/admin/settings": problem(403, "forbidden", "administrators and auditors only") });
    renderPage(<SettingsPage />);
    expect(await screen.findByText("administrators and auditors only")).toBeInTheDocument();
  });
});
