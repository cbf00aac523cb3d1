import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { JobsPage } from "./JobsPage";
import { fakeApi, problem, renderPage, seriousViolations } from "../../test/render";
import { AUDITOR, ADMIN, reconcileRun } from "./fixtures";
import { formatDateTime } from "../../format";

const deadJob = {
  id: 9,
  kind: "converge_key",
  status: "dead",
  api_key_id: "00000000-0000-7000-8000-0000000000a1",
  user_id: null,
  attempts: 12,
  last_error: "LiteLLM answered 500",
  run_at: "2026-01-05T12:00:00Z",
  created_at: "2026-01-05T11:00:00Z",
  updated_at: "2026-01-05T12:00:00Z",
};

const deadUserJob = {
  ...deadJob,
  id: 10,
  kind: "converge_user",
  api_key_id: null,
  user_id: "00000000-0000-7000-8000-0000000000b2",
  last_error: "LiteLLM refused: team_id",
};

const queue = (items: unknown[] = []) => ({
  body: { pending: 2, running: 0, dead: 1, oldest_pending_at: "2026-01-05T12:00:00Z", items },
});

/** The table of passes (PatternFly gives it the grid role). */
const passesTable = () => screen.getByRole("grid", { name: "Recent reconcile passes" });

describe("the jobs page", () => {
  it("names what each job is about: a key, or a user linked to their page", async () => {
    fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/jobs": ({ path }) =>
        queue(path.includes("status=dead") ? [deadJob, deadUserJob] : []),
      "GET /api/v1/admin/reconcile": { body: { runs: [] } },
    });
    renderPage(<JobsPage />);
    await screen.findByText("LiteLLM answered 500");
    const link = await screen.findByRole("link", { name: /user 00000000-0000-7000-8000-0000000000b2/ });
    expect(link).toHaveAttribute("href", "/admin/users/00000000-0000-7000-8000-0000000000b2");
    expect(screen.getByText("00000000-0000-7000-8000-0000000000a1")).toBeInTheDocument();
  });

  it("shows the counts, the dead jobs with their errors, and no reconcile pass yet", async () => {
    const calls = fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/jobs": ({ path }) => queue(path.includes("status=dead") ? [deadJob] : []),
      "GET /api/v1/admin/reconcile": { body: { runs: [] } },
    });
    const user = userEvent.setup();
    renderPage(<JobsPage />);
    expect(screen.getByLabelText("Loading the job queue")).toBeInTheDocument();
    expect(screen.getByLabelText("Loading the reconciler's passes")).toBeInTheDocument();
    expect(await screen.findByText("LiteLLM answered 500")).toBeInTheDocument();
    expect(await screen.findByText("No pass yet")).toBeInTheDocument();
    expect(screen.getByRole("heading", { level: 2, name: "Reconciler" })).toBeInTheDocument();
    expect(screen.queryByText(/not served by the API/)).not.toBeInTheDocument();
    expect(screen.queryByLabelText("Recent reconcile passes")).not.toBeInTheDocument();
    expect(calls.find((c) => c.path.startsWith("/api/v1/admin/reconcile"))?.path).toBe("/api/v1/admin/reconcile?limit=20");
    expect(await seriousViolations()).toEqual([]);
    await user.selectOptions(screen.getByLabelText("Job state"), "pending");
    expect(await screen.findByText("No pending jobs")).toBeInTheDocument();
    expect(calls.some((c) => c.path.includes("status=pending"))).toBe(true);
  });

  it("shows the server's problem when the queue cannot be read, and the reconciler still", async () => {
    fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/jobs": problem(503, "unavailable", "the database is not answering"),
      "GET /api/v1/admin/reconcile": { body: { runs: [reconcileRun()] } },
    });
    renderPage(<JobsPage />);
    expect(await screen.findByText("the database is not answering")).toBeInTheDocument();
    expect(await screen.findByText("The last pass found keyport and LiteLLM in agreement.")).toBeInTheDocument();
  });
});

describe("the reconciler section", () => {
  it("shows the last pass (when, how long, trigger, keys, findings by kind, fixed) and the recent passes", async () => {
    const last = reconcileRun({
      id: 14,
      started_at: "2026-01-05T12:10:00Z",
      finished_at: "2026-01-05T12:12:05Z",
      trigger: "command",
      litellm_keys: 52,
      keyport_rows: 50,
      litellm_calls: 7,
      findings: { orphan: 2, drift: 1 },
      fixed: 2,
    });
    const older = reconcileRun({ id: 13, findings: { missing: 4 }, fixed: 0, dry_run: true });
    fakeApi({
      ...ADMIN,
      "GET /api/v1/admin/jobs": queue(),
      "GET /api/v1/admin/reconcile": { body: { runs: [last, older] } },
    });
    renderPage(<JobsPage />);
    expect(await screen.findByText("The last pass found 3 disagreements and fixed 2.")).toBeInTheDocument();
    const details = screen.getByLabelText("Last reconcile pass");
    const value = (term: string) =>
      within(details).getByText(term).closest(".pf-v6-c-description-list__group")?.querySelector("dd")?.textContent;
    expect(value("Finished")).toBe(formatDateTime("2026-01-05T12:12:05Z"));
    expect(value("Took")).toBe("2 min 5 s");
    expect(value("Trigger")).toBe("keyport reconcile");
    expect(value("Dry run")).toBe("no");
    expect(value("Keys in LiteLLM")).toBe("52");
    expect(value("Keys in keyport")).toBe("50");
    expect(value("Calls to LiteLLM")).toBe("7");
    expect(value("Fixed")).toBe("2");
    expect(within(details).getByText("orphan: 2")).toBeInTheDocument();
    expect(within(details).getByText("drift: 1")).toBeInTheDocument();

    const table = passesTable();
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    expect(within(rows[0]!).getByText(formatDateTime("2026-01-05T12:10:00Z"))).toBeInTheDocument();
    expect(within(rows[0]!).getByText("completed")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("missing: 4")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("background (periodic)")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("4 s")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("yes")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("makes a failed last pass plain: an alert with its error, and failed in the table", async () => {
    fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/jobs": queue(),
      "GET /api/v1/admin/reconcile": {
        body: {
          runs: [
            reconcileRun({ id: 15, error: "LiteLLM did not answer: connection refused", litellm_keys: 0 }),
            reconcileRun({ id: 14 }),
          ],
        },
      },
    });
    renderPage(<JobsPage />);
    const alert = await screen.findByText("The last reconcile pass failed");
    const box = alert.closest(".pf-v6-c-alert") as HTMLElement;
    expect(box).toHaveClass("pf-m-danger");
    expect(within(box).getByText("LiteLLM did not answer: connection refused")).toBeInTheDocument();
    const rows = within(passesTable()).getAllByRole("row").slice(1);
    expect(within(rows[0]!).getByText("failed")).toBeInTheDocument();
    expect(within(rows[0]!).getByText(/connection refused/)).toBeInTheDocument();
    expect(within(rows[1]!).getByText("completed")).toBeInTheDocument();
    expect(screen.queryByText("The last pass found keyport and LiteLLM in agreement.")).not.toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
  });

  it("says a dry run changed nothing", async () => {
    fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/jobs": queue(),
      "GET /api/v1/admin/reconcile": { body: { runs: [reconcileRun({ dry_run: true, findings: { drift: 1 } })] } },
    });
    renderPage(<JobsPage />);
    expect(
      await screen.findByText("The last pass found 1 disagreement and changed nothing (dry run)."),
    ).toBeInTheDocument();
    expect(screen.getByText("yes: nothing changed")).toBeInTheDocument();
  });

  it("shows the server's problem when the passes cannot be read, and retries", async () => {
    let fail = true;
    const calls = fakeApi({
      ...AUDITOR,
      "GET /api/v1/admin/jobs": queue(),
      "GET /api/v1/admin/reconcile": () =>
        fail ? problem(503, "unavailable", "the database is not answering") : { body: { runs: [] } },
    });
    const user = userEvent.setup();
    renderPage(<JobsPage />);
    expect(await screen.findByText("Could not load the reconciler's passes")).toBeInTheDocument();
    expect(screen.getByText("the database is not answering")).toBeInTheDocument();
    expect(await seriousViolations()).toEqual([]);
    fail = false;
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("No pass yet")).toBeInTheDocument();
    await waitFor(() => expect(calls.filter((c) => c.path.startsWith("/api/v1/admin/reconcile"))).toHaveLength(2));
  });
});
