// What the administration pages share: who may change things (admins; auditors read), the read-only notice,
// "Load more" for keyset pages, and a limits editor whose empty fields mean unlimited.
import type { ReactNode } from "react";
import {
  Alert,
  Button,
  FormGroup,
  FormHelperText,
  Grid,
  GridItem,
  HelperText,
  HelperTextItem,
  PageSection,
  TextInput,
  Title,
  Content,
} from "@patternfly/react-core";
import { isAdmin } from "../../api/auth";
import { useMe } from "../../api/queries";
import type { Limits } from "../../api/client";
import { limitsToInput, type LimitField, type LimitsInput, LIMIT_FIELDS } from "../keys/limits";

/** Whether the signed-in user may change things here (admins); auditors see the same pages read-only. */
export function useCanChange(): boolean {
  const me = useMe();
  return isAdmin(me.data);
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const canChange = useCanChange();
  return (
    <PageSection>
      <Title headingLevel="h1">{title}</Title>
      {children && <Content component="p">{children}</Content>}
      {!canChange && (
        <Alert variant="info" isInline isPlain title="Read-only: auditors see this page without its changes." />
      )}
    </PageSection>
  );
}

export function LoadMore({
  query,
}: {
  query: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => unknown };
}) {
  if (!query.hasNextPage) return null;
  return (
    <Button
      variant="secondary"
      onClick={() => query.fetchNextPage()}
      isLoading={query.isFetchingNextPage}
      isDisabled={query.isFetchingNextPage}
      style={{ marginTop: "1rem" }}
    >
      Load more
    </Button>
  );
}

const LABELS: Record<LimitField, string> = {
  max_budget: "Budget (USD)",
  budget_duration: "Budget window",
  tpm_limit: "Tokens per minute",
  rpm_limit: "Requests per minute",
};

const HINTS: Record<LimitField, string> = {
  max_budget: "Empty: unlimited.",
  budget_duration: "Like 30d, 1w or 1mo; empty: never resets.",
  tpm_limit: "Empty: unlimited.",
  rpm_limit: "Empty: unlimited.",
};

const MONEY = /^\d+(\.\d{1,6})?$/;
const INTEGER = /^\d+$/;
const DURATION = /^[1-9]\d*(s|m|h|d|w|mo)$/;
const MAX_RATE = 2_147_483_646;

/** Field errors of limits standing alone (no cap): formats, rates 1 and up, a window only with a budget. */
export function checkLimits(input: LimitsInput): Partial<Record<LimitField, string>> {
  const errors: Partial<Record<LimitField, string>> = {};
  const budget = input.max_budget.trim();
  if (budget && !MONEY.test(budget)) errors.max_budget = "Enter an amount in USD, like 10 or 12.50.";
  const duration = input.budget_duration.trim();
  if (duration && !DURATION.test(duration))
    errors.budget_duration = "A number and a unit: s, m, h, d, w or mo (for example 30d).";
  else if (duration && !budget) errors.budget_duration = "A budget window needs a budget.";
  for (const field of ["tpm_limit", "rpm_limit"] as const) {
    const value = input[field].trim();
    if (!value) continue;
    if (!INTEGER.test(value) || Number(value) < 1 || Number(value) > MAX_RATE)
      errors[field] = "Enter a whole number from 1, or leave it empty for unlimited.";
  }
  return errors;
}

/** `prefix.max_budget` → `max_budget` when the server's field path is under `prefix`. */
export function limitFieldUnder(prefix: string, path: string): LimitField | undefined {
  const name = path.startsWith(`${prefix}.`) ? path.slice(prefix.length + 1) : "";
  return (LIMIT_FIELDS as string[]).includes(name) ? (name as LimitField) : undefined;
}

export function LimitsEditor({
  idPrefix,
  legend,
  value,
  errors,
  readOnly,
  onChange,
}: {
  idPrefix: string;
  legend: string;
  value: LimitsInput;
  errors: Partial<Record<LimitField, string>>;
  readOnly: boolean;
  onChange: (field: LimitField, value: string) => void;
}) {
  return (
    <fieldset className="kp-fieldset">
      <legend className="pf-v6-c-form__label">
        <span className="pf-v6-c-form__label-text">{legend}</span>
      </legend>
      <Grid hasGutter md={3}>
        {LIMIT_FIELDS.map((field) => {
          const id = `${idPrefix}-${field}`;
          const error = errors[field];
          return (
            <GridItem key={field}>
              <FormGroup label={LABELS[field]} fieldId={id}>
                <TextInput
                  id={id}
                  name={`${idPrefix}.${field}`}
                  value={value[field]}
                  readOnlyVariant={readOnly ? "default" : undefined}
                  placeholder={readOnly ? "unlimited" : undefined}
                  inputMode={field === "budget_duration" ? "text" : field === "max_budget" ? "decimal" : "numeric"}
                  onChange={(_e, v) => onChange(field, v)}
                  validated={error ? "error" : "default"}
                  aria-invalid={!!error}
                  aria-describedby={`${id}-help`}
                />
                <FormHelperText>
                  <HelperText id={`${id}-help`}>
                    <HelperTextItem variant={error ? "error" : "default"}>
                      {error ?? (readOnly ? "" : HINTS[field])}
                    </HelperTextItem>
                  </HelperText>
                </FormHelperText>
              </FormGroup>
            </GridItem>
          );
        })}
      </Grid>
    </fieldset>
  );
}

export { limitsToInput };
export type { Limits };
