import { describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiProblem } from "../api/problem";
import { checkReason, MAX_REASON, ReasonDialog } from "./ReasonDialog";

describe("checkReason", () => {
  it("requires a reason only when told what to say about a missing one", () => {
    expect(checkReason("  ", "Give a reason.")).toBe("Give a reason.");
    expect(checkReason("  ")).toBeNull();
    expect(checkReason(" spam ", "Give a reason.")).toBeNull();
  });

  it("counts characters, not UTF-16 units, after trimming", () => {
    expect(checkReason(` ${"x".repeat(MAX_REASON)} `)).toBeNull();
    expect(checkReason("😀".repeat(MAX_REASON))).toBeNull();
    expect(checkReason("x".repeat(MAX_REASON + 1))).toBe("At most 500 characters.");
  });
});

function dialog(props: Partial<Parameters<typeof ReasonDialog>[0]> = {}) {
  const onSubmit = vi.fn();
  render(
    <ReasonDialog
      id="test"
      title="Block it?"
      confirm="Block"
      help="Shown to the owner; 1 to 500 characters."
      missing="Give a reason: the owner sees it."
      busy={false}
      error={null}
      onClose={() => undefined}
      onSubmit={onSubmit}
      {...props}
    >
      It stops working.
    </ReasonDialog>,
  );
  return { onSubmit, dialog: screen.getByRole("dialog", { name: /Block it\?$/ }) };
}

const objection = new ApiProblem({
  status: 422,
  code: "validation",
  detail: "the request is not valid",
  errors: [{ field: "reason", message: "at most 500 characters" }],
});

describe("ReasonDialog", () => {
  it("refuses an empty or too long reason, and hands on a trimmed one", async () => {
    const user = userEvent.setup();
    const { onSubmit, dialog: d } = dialog();
    expect(within(d).getByText("Shown to the owner; 1 to 500 characters.")).toBeInTheDocument();
    await user.click(within(d).getByRole("button", { name: "Block" }));
    expect(within(d).getByText("Give a reason: the owner sees it.")).toBeInTheDocument();
    const field = within(d).getByRole("textbox", { name: "Reason" });
    expect(field).toHaveAttribute("aria-invalid", "true");

    await user.click(field);
    await user.paste("x".repeat(MAX_REASON + 1));
    await user.click(within(d).getByRole("button", { name: "Block" }));
    expect(within(d).getByText("At most 500 characters.")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();

    await user.clear(field);
    await user.type(field, "  leaked ");
    await user.click(within(d).getByRole("button", { name: "Block" }));
    expect(onSubmit).toHaveBeenCalledWith("leaked");
    expect(field).toHaveAttribute("aria-invalid", "false");
  });

  it("sends an empty optional reason as an empty string", async () => {
    const user = userEvent.setup();
    const { onSubmit, dialog: d } = dialog({ missing: undefined });
    await user.click(within(d).getByRole("button", { name: "Block" }));
    expect(onSubmit).toHaveBeenCalledWith("");
  });

  it("shows the server's objection to the reason on its field, any other failure as an alert", () => {
    const { dialog: d } = dialog({ error: objection });
    expect(within(d).getByText("at most 500 characters")).toBeInTheDocument();
    expect(within(d).getByRole("textbox", { name: "Reason" })).toHaveAttribute("aria-invalid", "true");
    expect(within(d).queryByRole("alert")).toBeNull();
  });

  it("titles a failure's alert after the action unless told otherwise", () => {
    const { dialog: d } = dialog({ error: new ApiProblem({ status: 409, detail: "the key is revoked" }) });
    expect(within(d).getByRole("alert")).toHaveTextContent("Block failed");
    expect(within(d).getByRole("alert")).toHaveTextContent("the key is revoked");
  });

  it("can show the alert beside the reason's objection, under its own title", () => {
    const { dialog: d } = dialog({ error: objection, problemTitle: "Not sent", problemWithFieldError: true });
    expect(within(d).getByText("at most 500 characters")).toBeInTheDocument();
    expect(within(d).getByRole("alert")).toHaveTextContent("Not sent");
  });
});
