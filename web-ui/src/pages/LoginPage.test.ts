import { describe, expect, it } from "vitest";
import { ssoErrorMessage } from "./LoginPage";

describe("the single sign-on error messages", () => {
  it("explains a callback refused because the login was started in another browser", () => {
    expect(ssoErrorMessage("login-browser-mismatch")).toMatch(/another browser/);
    expect(ssoErrorMessage("login-browser-mismatch")).toMatch(/cookies/);
  });

  it("names an unknown code instead of hiding it", () => {
    expect(ssoErrorMessage("something-new")).toBe("Single sign-on failed (something-new).");
  });
});
