// How numbers, money and times are shown. Times are in the user's own time zone (the browser's).
import type { Limits } from "./api/client";

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateOnly.format(d);
}

/** How long from one instant to another: "350 ms", "12 s", "2 min 5 s", "1 h 3 min"; "—" when unknown. */
export function formatElapsed(fromIso: string | null | undefined, toIso: string | null | undefined): string {
  if (!fromIso || !toIso) return "—";
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

/** USD from a decimal string of the API (amounts are never floats on the wire). */
export function formatUsd(amount: string | null | undefined, fallback = "—"): string {
  if (amount === null || amount === undefined || amount === "") return fallback;
  const n = Number(amount);
  if (!Number.isFinite(n)) return amount;
  const digits = n !== 0 && Math.abs(n) < 0.01 ? 4 : 2;
  return `$${n.toFixed(digits)}`;
}

/** A price per token as USD per million tokens, as catalogs show it. */
export function formatPricePerMillion(perToken: string | null | undefined): string {
  if (!perToken) return "—";
  const n = Number(perToken) * 1_000_000;
  if (!Number.isFinite(n)) return perToken;
  return `$${n.toFixed(n < 1 ? 3 : 2)} / 1M tokens`;
}

export function formatInteger(n: number | null | undefined, unlimited = "unlimited"): string {
  return n === null || n === undefined ? unlimited : new Intl.NumberFormat().format(n);
}

const UNITS: Record<string, [string, string]> = {
  s: ["second", "seconds"],
  m: ["minute", "minutes"],
  h: ["hour", "hours"],
  d: ["day", "days"],
  w: ["week", "weeks"],
  mo: ["month", "months"],
};

/** `30d` as "30 days". */
export function formatDuration(duration: string | null | undefined): string {
  if (!duration) return "";
  const m = /^(\d+)(s|m|h|d|w|mo)$/.exec(duration);
  if (!m) return duration;
  const n = Number(m[1]);
  const unit = UNITS[m[2] ?? ""];
  if (!unit) return duration;
  return `${n} ${n === 1 ? unit[0] : unit[1]}`;
}

/** A budget with its window: "$10.00 per 30 days", "$5.00 once", "unlimited". */
export function formatBudget(limits: Limits | null | undefined): string {
  if (!limits?.max_budget) return "unlimited";
  const per = limits.budget_duration ? ` per ${formatDuration(limits.budget_duration)}` : " in all";
  return `${formatUsd(limits.max_budget)}${per}`;
}

export function formatLimits(limits: Limits | null | undefined): string {
  const parts = [`budget ${formatBudget(limits)}`];
  parts.push(`${formatInteger(limits?.tpm_limit)} tokens/min`);
  parts.push(`${formatInteger(limits?.rpm_limit)} requests/min`);
  return parts.join(" · ");
}
