// The four fields of a set of limits, each with its label, its hint or its error. A key's form passes the cap
// its limits must stay within, and the hints name it; an administrator's form (quotas, defaults, maxima) passes
// a legend instead, the fields then stand in one row of a fieldset, and an empty field is unlimited.
import { Grid, GridItem } from "@patternfly/react-core";
import type { Limits } from "../api/client";
import { Fieldset, TextField } from "../components/Fields";
import { formatDuration } from "../format";
import { LIMIT_FIELDS, type LimitErrors, type LimitField, type LimitsInput } from "./limits";

const LABELS: Record<LimitField, string> = {
  max_budget: "Budget (USD)",
  budget_duration: "Budget window",
  tpm_limit: "Tokens per minute",
  rpm_limit: "Requests per minute",
};

/** The hints of limits standing alone. */
const HINTS: Record<LimitField, string> = {
  max_budget: "Empty: unlimited.",
  budget_duration: "Like 30d, 1w or 1mo; empty: never resets.",
  tpm_limit: "Empty: unlimited.",
  rpm_limit: "Empty: unlimited.",
};

/** The hint of a key's limit within its cap. */
function hintWithin(field: LimitField, cap: Limits): string {
  switch (field) {
    case "max_budget":
      return cap.max_budget ? `Up to ${cap.max_budget}. Empty: the quota's.` : "Empty: unlimited.";
    case "budget_duration":
      return cap.budget_duration
        ? `The quota resets every ${formatDuration(cap.budget_duration)}. Like 30d, 1w, 1mo.`
        : "Like 30d, 1w or 1mo; empty: the budget never resets.";
    default: {
      const max = cap[field];
      return max !== null && max !== undefined ? `Up to ${max}. Empty: the quota's.` : "Empty: unlimited.";
    }
  }
}

export function LimitsFields({
  idPrefix,
  value,
  errors,
  onChange,
  cap,
  legend,
  readOnly = false,
}: {
  idPrefix: string;
  value: LimitsInput;
  errors: LimitErrors;
  onChange: (field: LimitField, value: string) => void;
  /** A key's cap: the hints say how far each limit may go. */
  cap?: Limits;
  /** The name of the set, for a form with several (a fieldset, its four fields in one row). */
  legend?: string;
  /** Shown but not editable (auditors); empty fields read "unlimited", without hints. */
  readOnly?: boolean;
}) {
  const fields = (
    <Grid hasGutter md={legend ? 3 : 6}>
      {LIMIT_FIELDS.map((field) => {
        const id = `${idPrefix}-${field}`;
        const error = errors[field];
        const hint = readOnly ? "" : cap ? hintWithin(field, cap) : HINTS[field];
        return (
          <GridItem key={field}>
            <TextField
              id={id}
              label={LABELS[field]}
              error={error}
              hint={hint}
              name={legend ? `${idPrefix}.${field}` : field}
              value={value[field]}
              readOnlyVariant={readOnly ? "default" : undefined}
              placeholder={readOnly ? "unlimited" : undefined}
              inputMode={field === "budget_duration" ? "text" : field === "max_budget" ? "decimal" : "numeric"}
              onChange={(_e, v) => onChange(field, v)}
            />
          </GridItem>
        );
      })}
    </Grid>
  );
  if (!legend) return fields;
  return (
    <Fieldset legend={legend}>{fields}</Fieldset>
  );
}
