import { describe, expect, it } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { AuditPage } from "./AuditPage";
import { fakeApi, problem, renderPage, seriousViolations } from "../../test/render";
import { AUDITOR, auditEvent } from "./fixtures";

describe("the audit log", () => {
  it("lists events, opens one to its before and after, and pages on with the cursor", async () => {
    const calls = fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/audit": ({ path }) =>
        path.includes("cursor=a1")
          ? { body: { items: [auditEvent({ id: 7, action: "api_key.create", actor: null, actor_username: null })], next_cursor: null } }
          : { body: { items: [auditEvent()], next_cursor: "a1" } },
    });
    const user = userEvent.setup();
    renderPage(<AuditPage />);
    expect(screen.getByLabelText("Loading the audit log")).toBeInTheDocument();
    expect(await screen.findByText("model.update")).toBeInTheDocument();
    expect(screen.getByText("#41")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
    await user.click(screen.getByRole("button", { name: "Details" }));
    expect(screen.getByText(/"restricted": true/)).toBeVisible();
    expect(screen.getByText("ci-run-812")).toBeVisible();
    await user.click(screen.getByRole("button", { name: "Load more" }));
    expect(await screen.findByText("api_key.create")).toBeInTheDocument();
    expect(screen.getByText("keyport")).toBeInTheDocument();
    expect(calls.filter((c) => c.path.startsWith("/api/v1/admin/audit")).map((c) => c.path.includes("cursor=a1"))).toEqual([
      false,
      true,
    ]);
  });

  it("checks filters before sending, sends them, and shows the server's objection on its field", async () => {
    const calls = fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/audit": ({ path }) =>
        path.includes("since=")
          ? problem(422, "validation", "the filters are not valid", [{ field: "since", message: "too far in the past" }])
          : { body: { items: [] } },
    });
    const user = userEvent.setup();
    renderPage(<AuditPage />);
    expect(await screen.findByText("No events")).toBeInTheDocument();
    await user.type(screen.getByLabelText("Actor (user id)"), "alice");
    await user.type(screen.getByLabelText("Action"), "api key");
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    expect(screen.getByText("A user id (a UUID), as on the user's page.")).toBeInTheDocument();
    expect(screen.getByLabelText("Action")).toHaveAttribute("aria-invalid", "true");
    expect(calls.filter((c) => c.path.startsWith("/api/v1/admin/audit"))).toHaveLength(1);
    await user.clear(screen.getByLabelText("Actor (user id)"));
    await user.clear(screen.getByLabelText("Action"));
    await user.type(screen.getByLabelText("Action"), "api_key.*");
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    await waitFor(() => expect(calls.some((c) => c.path.includes("action=api_key.*"))).toBe(true));
    expect(await screen.findByText("Nothing matches these filters.")).toBeInTheDocument();
    await user.type(screen.getByLabelText("From"), "2020-01-01T10:00");
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    expect(await screen.findByText("too far in the past")).toBeInTheDocument();
    expect(screen.getByLabelText("From")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByText("the filters are not valid")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("refuses an until before the from", async () => {
    const calls = fakeApi({ ...AUDITOR, "GET /api/v1/admin/audit": { body: { items: [] } } });
    const user = userEvent.setup();
    renderPage(<AuditPage />);
    await screen.findByText("No events");
    await user.type(screen.getByLabelText("From"), "2026-02-01T10:00");
    await user.type(screen.getByLabelText("Until"), "2026-01-01T10:00");
    await user.click(screen.getByRole("button", { name: "Apply filters" }));
    expect(screen.getByText("Must be after From.")).toBeInTheDocument();
    expect(calls.filter((c) => c.path.startsWith("/api/v1/admin/audit"))).toHaveLength(1);
  });
});
