import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApprovalsPage } from "./ApprovalsPage";
import { fakeApi, problem, renderPage, seriousViolations } from "../../test/render";
import { ADMIN, AUDITOR, adminSubscription } from "./fixtures";

const A = adminSubscription();
const B = adminSubscription({ id: "00000000-0000-7000-8000-000000000102", owner_username: "carol" });

describe("the approvals page", () => {
  it("loads, then approves the selected requests in one call and says what happened to each", async () => {
    let decided = false;
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/subscriptions": () => ({ body: { items: decided ? [] : [A, B], next_cursor: null } }),
      "POST /api/v1/admin/subscriptions/approve": () => {
        decided = true;
        return {
          body: {
            results: [
              { id: A.id, outcome: "approved", status: "active", detail: null },
              { id: B.id, outcome: "not_pending", status: "cancelled", detail: "the subscription is cancelled" },
            ],
            succeeded: 1,
            unchanged: 1,
          },
        };
      },
    });
    const user = userEvent.setup();
    renderPage(<ApprovalsPage />);
    expect(screen.getByLabelText("Loading the approval queue")).toBeInTheDocument();
    await screen.findByText("carol");
    expect(calls[calls.length - 1]?.path).toContain("status=pending");
    expect(screen.getByRole("button", { name: "Approve selected (0)" })).toBeDisabled();
    await user.click(screen.getByRole("checkbox", { name: "Select all" }));
    expect(await seriousViolations()).toEqual([]);
    await user.click(screen.getByRole("button", { name: "Approve selected (2)" }));
    const alert = await screen.findByText("Approved 1; 1 unchanged");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ ids: [A.id, B.id] });
    expect(calls.find((c) => c.method === "POST")?.headers.get("X-CSRF-Token")).toBe("csrf-abc");
    expect(alert.closest(".pf-v6-c-alert")).toHaveTextContent("carol → claude-3-5-sonnet: the subscription is cancelled");
    expect(await screen.findByText("Nothing waits for approval")).toBeInTheDocument();
  });

  it("asks for a reason before rejecting, and shows the server's objection on it", async () => {
    const calls = fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/subscriptions": { body: { items: [A, B] } },
      "POST /api/v1/admin/subscriptions/reject": problem(422, "validation", "the request is not valid", [
        { field: "reason", message: "at most 500 characters" },
      ]),
    });
    const user = userEvent.setup();
    renderPage(<ApprovalsPage />);
    await user.click(await screen.findByRole("checkbox", { name: "Select bob's request for claude-3-5-sonnet" }));
    await user.click(screen.getByRole("button", { name: "Reject selected…" }));
    const dialog = await screen.findByRole("dialog", { name: "Reject 1 request" });
    await user.click(within(dialog).getByRole("button", { name: "Reject" }));
    expect(within(dialog).getByText("Give a reason: the users see it.")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await user.type(within(dialog).getByLabelText(/^Reason/), "  not for this project ");
    await user.click(within(dialog).getByRole("button", { name: "Reject" }));
    expect(await within(dialog).findByText("at most 500 characters")).toBeInTheDocument();
    expect(within(dialog).getByLabelText(/^Reason/)).toHaveAttribute("aria-invalid", "true");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ ids: [A.id], reason: "not for this project" });
    expect(await seriousViolations()).toEqual([]);
  });

  it("shows the server's problem when the queue cannot be read", async () => {
    fakeApi({ ...ADMIN, "GET /api/v1/admin/subscriptions": problem(503, "unavailable", "the database is not answering") });
    renderPage(<ApprovalsPage />);
    expect(await screen.findByText("the database is not answering")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("shows auditors the queue without selection or decisions", async () => {
    fakeApi({ ...AUDITOR, "GET /api/v1/admin/subscriptions": { body: { items: [A] } } });
    renderPage(<ApprovalsPage />);
    await screen.findByText("bob");
    await waitFor(() => expect(screen.getByText(/Read-only: auditors/)).toBeInTheDocument());
    expect(screen.queryByRole("checkbox")).toBeNull();
    expect(screen.queryByRole("button", { name: /Approve|Reject/ })).toBeNull();
    expect(await seriousViolations()).toEqual([]);
  });
});
