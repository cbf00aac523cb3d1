import { describe, expect, it } from "vitest";
import { inputToLimits, limitErrorsUnder, limitsToInput, prefill, tightestQuota, tighter, validateLimits } from "./limits";
import { subscription } from "../test/render";
import type { Subscription } from "../api/client";

const sub = (quota: Record<string, unknown>) => subscription({ quota }) as unknown as Subscription;

describe("key limits", () => {
  it("the tightest quota of several subscriptions caps every limit", () => {
    const cap = tightestQuota([
      sub({ max_budget: "10.00", budget_duration: "30d", tpm_limit: 5000, rpm_limit: null }),
      sub({ max_budget: "4.00", budget_duration: "7d", tpm_limit: null, rpm_limit: 30 }),
    ]);
    expect(cap).toEqual({ max_budget: "4.00", budget_duration: "7d", tpm_limit: 5000, rpm_limit: 30 });
  });

  it("unlimited quotas leave the limits unset", () => {
    expect(tightestQuota([sub({})])).toEqual({
      max_budget: null,
      budget_duration: null,
      tpm_limit: null,
      rpm_limit: null,
    });
  });

  it("refuses what the quota does not allow, and malformed values", () => {
    const cap = { max_budget: "10.00", budget_duration: "30d", tpm_limit: 1000, rpm_limit: 10 };
    const errors = validateLimits(
      { max_budget: "12", budget_duration: "forever", tpm_limit: "1.5", rpm_limit: "11" },
      cap,
    );
    expect(Object.keys(errors).sort()).toEqual(["budget_duration", "max_budget", "rpm_limit", "tpm_limit"]);
    expect(validateLimits(limitsToInput(cap), cap)).toEqual({});
  });

  it("empty fields are sent as null (the server takes the quota)", () => {
    expect(inputToLimits({ max_budget: "", budget_duration: "", tpm_limit: " ", rpm_limit: "5" })).toEqual({
      max_budget: null,
      budget_duration: null,
      tpm_limit: null,
      rpm_limit: 5,
    });
  });

  it("an administrator's maximum tightens the quota, and defaults never exceed the cap", () => {
    const quota = { max_budget: "10.00", budget_duration: "30d", tpm_limit: 1000, rpm_limit: null };
    const cap = tighter(quota, { max_budget: "4.00", budget_duration: "7d", tpm_limit: null, rpm_limit: 20 });
    expect(cap).toEqual({ max_budget: "4.00", budget_duration: "7d", tpm_limit: 1000, rpm_limit: 20 });
    expect(prefill(cap, { max_budget: "8.00", budget_duration: "30d", tpm_limit: 100, rpm_limit: null })).toEqual({
      max_budget: "4.00",
      budget_duration: "7d",
      tpm_limit: 100,
      rpm_limit: 20,
    });
    expect(prefill(cap, undefined)).toEqual(cap);
  });
});

describe("the server's objections to limits", () => {
  it("puts those under the prefix on their limits and leaves the others out", () => {
    const problems = [
      { field: "quota.rpm_limit", message: "too many" },
      { field: "limits.tpm_limit", message: "not this prefix" },
      { field: "quota.colour", message: "no such limit" },
      { field: "reason", message: "too long" },
      { field: "quota.max_budget", message: "first" },
      { field: "quota.max_budget", message: "last wins" },
    ];
    expect(limitErrorsUnder("quota", problems)).toEqual({ rpm_limit: "too many", max_budget: "last wins" });
    expect(limitErrorsUnder("default_quota", problems)).toEqual({});
  });
});
