import { FormGroup, FormHelperText, Grid, GridItem, HelperText, HelperTextItem, TextInput } from "@patternfly/react-core";
import type { Limits } from "../../api/client";
import { formatDuration } from "../../format";
import type { LimitField, LimitsInput } from "./limits";

const LABELS: Record<LimitField, string> = {
  max_budget: "Budget (USD)",
  budget_duration: "Budget window",
  tpm_limit: "Tokens per minute",
  rpm_limit: "Requests per minute",
};

function hint(field: LimitField, cap: Limits): string {
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
  cap,
  errors,
  onChange,
}: {
  idPrefix: string;
  value: LimitsInput;
  cap: Limits;
  errors: Partial<Record<LimitField, string>>;
  onChange: (field: LimitField, value: string) => void;
}) {
  return (
    <Grid hasGutter md={6}>
      {(Object.keys(LABELS) as LimitField[]).map((field) => {
        const id = `${idPrefix}-${field}`;
        const error = errors[field];
        return (
          <GridItem key={field}>
            <FormGroup label={LABELS[field]} fieldId={id}>
              <TextInput
                id={id}
                name={field}
                value={value[field]}
                inputMode={field === "budget_duration" ? "text" : field === "max_budget" ? "decimal" : "numeric"}
                onChange={(_e, v) => onChange(field, v)}
                validated={error ? "error" : "default"}
                aria-invalid={!!error}
                aria-describedby={`${id}-help`}
              />
              <FormHelperText>
                <HelperText id={`${id}-help`}>
                  <HelperTextItem variant={error ? "error" : "default"}>{error ?? hint(field, cap)}</HelperTextItem>
                </HelperText>
              </FormHelperText>
            </FormGroup>
          </GridItem>
        );
      })}
    </Grid>
  );
}
