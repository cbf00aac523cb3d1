import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import { TextField } from "./Fields";

describe("TextField", () => {
  it("shows its hint under the input, described by it", () => {
    render(<TextField id="name" label="Name" error={undefined} hint="What users see." value="" onChange={() => undefined} />);
    const input = screen.getByRole("textbox", { name: "Name" });
    expect(input).toHaveAttribute("aria-invalid", "false");
    expect(input).toHaveAccessibleDescription("What users see.");
  });

  it("shows its error instead of the hint, and is marked invalid", () => {
    render(
      <TextField id="name" label="Name" isRequired error="Give a name." hint="What users see." value="" onChange={() => undefined} />,
    );
    const input = screen.getByRole("textbox", { name: /^Name/ });
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toBeRequired();
    expect(input).toHaveAccessibleDescription(/^Give a name\./);
    expect(screen.queryByText("What users see.")).toBeNull();
  });

  it("without a hint, shows its error alone and is described only while it has one", () => {
    const { rerender } = render(<TextField id="days" label="Days" error={undefined} value="" onChange={() => undefined} />);
    const input = screen.getByRole("textbox", { name: "Days" });
    expect(input).not.toHaveAttribute("aria-describedby");
    expect(document.getElementById("days-help")).toBeNull();
    rerender(<TextField id="days" label="Days" error="A whole number." value="x" onChange={() => undefined} />);
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toHaveAccessibleDescription(/^A whole number\./);
  });
});
