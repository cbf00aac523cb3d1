// A set of limits (budget, budget window, tokens and requests per minute) as the forms edit it: the text of each
// field, its parsing to and from the API's `Limits`, and its checks before anything is sent. Two kinds of form
// use it: a key's limits, which the user sets within a cap (the tightest quota of the key's subscriptions and
// the administrator's maximum, what the server would take for an unset limit), and the limits an administrator
// sets standing alone (quotas, defaults and maxima), where an empty field is unlimited.
import type { Limits, SelfServiceSettings, Subscription } from "../api/client";

export interface LimitsInput {
  max_budget: string;
  budget_duration: string;
  tpm_limit: string;
  rpm_limit: string;
}

export type LimitField = keyof LimitsInput;
export const LIMIT_FIELDS: LimitField[] = ["max_budget", "budget_duration", "tpm_limit", "rpm_limit"];

/** The objections to a set of limits, by field; empty when they may be sent. */
export type LimitErrors = Partial<Record<LimitField, string>>;

const MONEY = /^\d+(\.\d{1,6})?$/;
const INTEGER = /^\d+$/;
const DURATION = /^[1-9]\d*(s|m|h|d|w|mo)$/;
/** The largest rate the server takes for a limit standing alone. */
const MAX_RATE = 2_147_483_646;
const RATES = ["tpm_limit", "rpm_limit"] as const;

const NOT_MONEY = "Enter an amount in USD, like 10 or 12.50.";
const NOT_DURATION = "A number and a unit: s, m, h, d, w or mo (for example 30d).";
const WINDOW_WITHOUT_BUDGET = "A budget window needs a budget.";

function minOf(values: (number | null | undefined)[]): number | null {
  const set = values.filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
  return set.length ? Math.min(...set) : null;
}

/** The tightest quota of the subscriptions: the most a key bound to all of them may have. */
export function tightestQuota(subscriptions: Subscription[]): Limits {
  const budgets = subscriptions.map((s) => (s.quota.max_budget ? Number(s.quota.max_budget) : null));
  const maxBudget = minOf(budgets);
  const withBudget = subscriptions.find(
    (s) => s.quota.max_budget !== null && s.quota.max_budget !== undefined && Number(s.quota.max_budget) === maxBudget,
  );
  return {
    max_budget: withBudget?.quota.max_budget ?? null,
    budget_duration: withBudget?.quota.budget_duration ?? null,
    tpm_limit: minOf(subscriptions.map((s) => s.quota.tpm_limit)),
    rpm_limit: minOf(subscriptions.map((s) => s.quota.rpm_limit)),
  };
}

/** The tighter of two sets of limits, field by field (null is unlimited). */
export function tighter(a: Limits, b: Limits | null | undefined): Limits {
  if (!b) return a;
  const budgetA = a.max_budget ? Number(a.max_budget) : null;
  const budgetB = b.max_budget ? Number(b.max_budget) : null;
  const fromB = budgetB !== null && (budgetA === null || budgetB < budgetA);
  return {
    max_budget: fromB ? b.max_budget : a.max_budget ?? null,
    budget_duration: fromB ? b.budget_duration ?? null : a.budget_duration ?? null,
    tpm_limit: minOf([a.tpm_limit, b.tpm_limit]),
    rpm_limit: minOf([a.rpm_limit, b.rpm_limit]),
  };
}

/** The cap of a key bound to `subscriptions`: their tightest quota, and the administrator's maximum. */
export function keyCap(subscriptions: Subscription[], settings: SelfServiceSettings | undefined): Limits {
  return tighter(tightestQuota(subscriptions), settings?.key_max_limits);
}

/**
 * What a key's form starts with: the administrator's defaults for keys, within the cap; where there is no
 * default, the cap itself (what the server would take for an unset limit).
 */
export function prefill(cap: Limits, defaults: Limits | null | undefined): Limits {
  const wanted: Limits = {
    max_budget: defaults?.max_budget ?? cap.max_budget ?? null,
    budget_duration: defaults?.max_budget ? defaults.budget_duration ?? null : cap.budget_duration ?? null,
    tpm_limit: defaults?.tpm_limit ?? cap.tpm_limit ?? null,
    rpm_limit: defaults?.rpm_limit ?? cap.rpm_limit ?? null,
  };
  return tighter(wanted, cap);
}

export function limitsToInput(limits: Limits | null | undefined): LimitsInput {
  return {
    max_budget: limits?.max_budget ?? "",
    budget_duration: limits?.budget_duration ?? "",
    tpm_limit: limits?.tpm_limit === null || limits?.tpm_limit === undefined ? "" : String(limits.tpm_limit),
    rpm_limit: limits?.rpm_limit === null || limits?.rpm_limit === undefined ? "" : String(limits.rpm_limit),
  };
}

/** The limits as the API takes them; an empty field is null (unlimited, or for a key the tightest quota). */
export function inputToLimits(input: LimitsInput): Limits {
  const text = (v: string) => (v.trim() === "" ? null : v.trim());
  const int = (v: string) => (v.trim() === "" ? null : Number(v.trim()));
  return {
    max_budget: text(input.max_budget),
    budget_duration: text(input.budget_duration),
    tpm_limit: int(input.tpm_limit),
    rpm_limit: int(input.rpm_limit),
  };
}

/** The budget and the window, trimmed, with the objections to their formats. */
function checkFormats(input: LimitsInput): { budget: string; duration: string; errors: LimitErrors } {
  const errors: LimitErrors = {};
  const budget = input.max_budget.trim();
  if (budget && !MONEY.test(budget)) errors.max_budget = NOT_MONEY;
  const duration = input.budget_duration.trim();
  if (duration && !DURATION.test(duration)) errors.budget_duration = NOT_DURATION;
  return { budget, duration, errors };
}

/** Field errors of a key's limits against its cap (the tightest quota); rates may be 0. */
export function validateLimits(input: LimitsInput, cap: Limits): LimitErrors {
  const { budget, duration, errors } = checkFormats(input);
  if (budget && !errors.max_budget && cap.max_budget && Number(budget) > Number(cap.max_budget))
    errors.max_budget = `At most ${cap.max_budget} USD (quota and maximum of your keys).`;
  // On a key, a window without a budget is the objection to name, whatever its format.
  if (duration && !budget) errors.budget_duration = WINDOW_WITHOUT_BUDGET;
  for (const field of RATES) {
    const value = input[field].trim();
    if (!value) continue;
    const max = cap[field];
    if (!INTEGER.test(value)) errors[field] = "Enter a whole number (0 or more).";
    else if (max !== null && max !== undefined && Number(value) > max)
      errors[field] = `At most ${max} (quota and maximum of your keys).`;
  }
  return errors;
}

/** Field errors of limits standing alone (no cap): formats, rates 1 and up, a window only with a budget. */
export function checkLimits(input: LimitsInput): LimitErrors {
  const { budget, duration, errors } = checkFormats(input);
  if (duration && !budget && !errors.budget_duration) errors.budget_duration = WINDOW_WITHOUT_BUDGET;
  for (const field of RATES) {
    const value = input[field].trim();
    if (!value) continue;
    if (!INTEGER.test(value) || Number(value) < 1 || Number(value) > MAX_RATE)
      errors[field] = "Enter a whole number from 1, or leave it empty for unlimited.";
  }
  return errors;
}

/** `prefix.max_budget` → `max_budget` when the server's field path is under `prefix` (`limits`, `quota`, …). */
export function limitFieldUnder(prefix: string, path: string): LimitField | undefined {
  const name = path.startsWith(`${prefix}.`) ? path.slice(prefix.length + 1) : "";
  return (LIMIT_FIELDS as string[]).includes(name) ? (name as LimitField) : undefined;
}

/** The server's field errors (`limits.rpm_limit`, …) on the limits under `prefix`, by limit; the others left out. */
export function limitErrorsUnder(prefix: string, problems: readonly { field: string; message: string }[]): LimitErrors {
  const errors: LimitErrors = {};
  for (const e of problems) {
    const field = limitFieldUnder(prefix, e.field);
    if (field) errors[field] = e.message;
  }
  return errors;
}
