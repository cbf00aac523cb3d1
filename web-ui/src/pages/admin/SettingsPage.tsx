// The defaults and maximums for self-service subscriptions and keys, how many live keys a user may hold, the
// LiteLLM routes keys may call, and the longest a personal access token may live. Saving replaces all of them: an empty limit is unlimited, an empty
// lifetime none. Checked here before sending; the server's objections land on their fields. Auditors see the
// values read-only.
import { useState, type FormEvent } from "react";
import {
  ActionGroup,
  Alert,
  Button,
  Checkbox,
  Form,
  FormGroup,
  FormHelperText,
  Grid,
  GridItem,
  HelperText,
  HelperTextItem,
  Label,
  PageSection,
} from "@patternfly/react-core";
import { useAdminSettings, usePutSettings, type AdminSettings, type SettingsBody } from "../../api/admin";
import { ApiProblem } from "../../api/problem";
import { Fieldset, TextField } from "../../components/Fields";
import { Loading, ProblemAlert, ProblemView } from "../../components/States";
import { LimitsFields } from "../../limits/LimitsFields";
import { checkLimits, inputToLimits, limitErrorsUnder, limitsToInput } from "../../limits/limits";
import type { LimitField, LimitsInput } from "../../limits/limits";
import { PageHeader, useCanChange } from "./shared";

const GROUPS = [
  ["subscription_max_quota", "Most quota of a new subscription"],
  ["key_default_limits", "Limits the key forms prefill"],
  ["key_max_limits", "Most any key may have"],
] as const;
type Group = (typeof GROUPS)[number][0];
const LIFETIMES = [
  ["key_default_lifetime_days", "Default key lifetime (days)", "Keys created without an expiry get it. Empty: none."],
  ["key_max_lifetime_days", "Longest key lifetime (days)", "Empty: keys may live for ever."],
] as const;
type Lifetime = (typeof LIFETIMES)[number][0];
const MAX_DAYS = 36_500;
const MAX_LIVE_KEYS = 1000;
/** The longest any personal access token may live, whatever the setting. */
const MAX_TOKEN_DAYS = 366;
/** The server's number of live keys per user when none is set. */
export const DEFAULT_LIVE_KEYS = 20;

interface Values {
  limits: Record<Group, LimitsInput>;
  days: Record<Lifetime, string>;
  maxLiveKeys: string;
  /** The longest token lifetime in days; empty: no maximum beyond the built-in one. */
  tokenMaxDays: string;
  /** The routes keys may call, checked. */
  routes: string[];
}
interface Errors {
  limits: Record<Group, Partial<Record<LimitField, string>>>;
  days: Partial<Record<Lifetime, string>>;
  maxLiveKeys?: string;
  tokenMaxDays?: string;
  routes?: string;
}

const noErrors = (): Errors => ({
  limits: { subscription_max_quota: {}, key_default_limits: {}, key_max_limits: {} },
  days: {},
});

/** Every route on offer, in the server's order; a stored one it no longer offers comes last, to be unchecked. */
function routesOnOffer(s: AdminSettings): string[] {
  const extra = (s.allowed_routes ?? []).filter((r) => !s.available_routes.includes(r));
  return [...s.available_routes, ...extra];
}

function toValues(s: AdminSettings): Values {
  const days = (n: number | null | undefined) => (n === null || n === undefined ? "" : String(n));
  return {
    limits: {
      subscription_max_quota: limitsToInput(s.subscription_max_quota),
      key_default_limits: limitsToInput(s.key_default_limits),
      key_max_limits: limitsToInput(s.key_max_limits),
    },
    days: {
      key_default_lifetime_days: days(s.key_default_lifetime_days),
      key_max_lifetime_days: days(s.key_max_lifetime_days),
    },
    maxLiveKeys: String(s.max_live_keys_per_user ?? DEFAULT_LIVE_KEYS),
    tokenMaxDays: days(s.token_max_lifetime_days),
    routes: s.allowed_routes ?? [],
  };
}

/** Everything wrong with the values, field by field, as the server would say it. */
export function validateSettings(v: Values): Errors {
  const errors = noErrors();
  for (const [group] of GROUPS) errors.limits[group] = checkLimits(v.limits[group]);
  const defaults = v.limits.key_default_limits;
  const max = v.limits.key_max_limits;
  const above = (field: LimitField) => {
    const d = defaults[field].trim();
    const m = max[field].trim();
    return d !== "" && m !== "" && Number(d) > Number(m);
  };
  for (const field of ["max_budget", "tpm_limit", "rpm_limit"] as const) {
    if (!errors.limits.key_default_limits[field] && !errors.limits.key_max_limits[field] && above(field))
      errors.limits.key_default_limits[field] = `Above the maximum for keys (${max[field].trim()}).`;
  }
  const parsed: Partial<Record<Lifetime, number>> = {};
  for (const [field] of LIFETIMES) {
    const text = v.days[field].trim();
    if (!text) continue;
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_DAYS)
      errors.days[field] = `Between 1 and ${MAX_DAYS} days, or empty for none.`;
    else parsed[field] = Number(text);
  }
  const d = parsed.key_default_lifetime_days;
  const m = parsed.key_max_lifetime_days;
  if (d !== undefined && m !== undefined && d > m)
    errors.days.key_default_lifetime_days = `Longer than the longest lifetime (${m} days).`;
  const keys = v.maxLiveKeys.trim();
  if (!/^\d+$/.test(keys) || Number(keys) < 1 || Number(keys) > MAX_LIVE_KEYS)
    errors.maxLiveKeys = `A whole number from 1 to ${MAX_LIVE_KEYS}.`;
  const tokenDays = v.tokenMaxDays.trim();
  if (tokenDays && (!/^\d+$/.test(tokenDays) || Number(tokenDays) < 1 || Number(tokenDays) > MAX_TOKEN_DAYS))
    errors.tokenMaxDays = `Between 1 and ${MAX_TOKEN_DAYS} days, or empty for no maximum.`;
  if (v.routes.length === 0) errors.routes = "Choose at least one route.";
  return errors;
}

const hasErrors = (e: Errors) =>
  Object.keys(e.days).length > 0 ||
  GROUPS.some(([g]) => Object.keys(e.limits[g]).length > 0) ||
  !!e.maxLiveKeys ||
  !!e.tokenMaxDays ||
  !!e.routes;

/** The server's field errors on their fields; `allowed_routes[2]` is the third route sent, named. */
function serverErrors(error: unknown, sentRoutes: string[]): Errors {
  const errors = noErrors();
  if (!(error instanceof ApiProblem)) return errors;
  for (const [group] of GROUPS) errors.limits[group] = limitErrorsUnder(group, error.errors);
  for (const e of error.errors) {
    for (const [field] of LIFETIMES) if (e.field === field) errors.days[field] = e.message;
    if (e.field === "max_live_keys_per_user") errors.maxLiveKeys = e.message;
    if (e.field === "token_max_lifetime_days") errors.tokenMaxDays = e.message;
    const route = /^allowed_routes(?:\[(\d+)\])?$/.exec(e.field);
    if (route) {
      const named = route[1] === undefined ? undefined : sentRoutes[Number(route[1])];
      errors.routes = named ? `${named}: ${e.message}` : e.message;
    }
  }
  return errors;
}

export function SettingsPage() {
  const settings = useAdminSettings();
  return (
    <>
      <PageHeader title="Settings">
        Defaults and maximums for what users make themselves. They apply at once to new subscriptions and to keys
        created, changed or rotated from now on; existing ones keep what they have.
      </PageHeader>
      <PageSection>
        {settings.isPending ? (
          <Loading what="the settings" />
        ) : settings.isError ? (
          <ProblemView error={settings.error} what="the settings" onRetry={() => settings.refetch()} />
        ) : (
          <SettingsForm settings={settings.data} />
        )}
      </PageSection>
    </>
  );
}

function SettingsForm({ settings }: { settings: AdminSettings }) {
  const canChange = useCanChange();
  const put = usePutSettings();
  const [values, setValues] = useState<Values>(() => toValues(settings));
  const [local, setLocal] = useState<Errors>(noErrors);
  const [saved, setSaved] = useState(false);
  const [sentRoutes, setSentRoutes] = useState<string[]>([]);
  const offered = routesOnOffer(settings);
  const server = serverErrors(put.error, sentRoutes);
  const merged: Errors = {
    limits: {
      subscription_max_quota: { ...server.limits.subscription_max_quota, ...local.limits.subscription_max_quota },
      key_default_limits: { ...server.limits.key_default_limits, ...local.limits.key_default_limits },
      key_max_limits: { ...server.limits.key_max_limits, ...local.limits.key_max_limits },
    },
    days: { ...server.days, ...local.days },
    maxLiveKeys: local.maxLiveKeys ?? server.maxLiveKeys,
    tokenMaxDays: local.tokenMaxDays ?? server.tokenMaxDays,
    routes: local.routes ?? server.routes,
  };

  function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(false);
    const errors = validateSettings(values);
    setLocal(errors);
    if (hasErrors(errors)) return;
    const days = (t: string) => (t.trim() === "" ? null : Number(t.trim()));
    const body: SettingsBody = {
      subscription_max_quota: inputToLimits(values.limits.subscription_max_quota),
      key_default_limits: inputToLimits(values.limits.key_default_limits),
      key_max_limits: inputToLimits(values.limits.key_max_limits),
      key_default_lifetime_days: days(values.days.key_default_lifetime_days),
      key_max_lifetime_days: days(values.days.key_max_lifetime_days),
      max_live_keys_per_user: Number(values.maxLiveKeys.trim()),
      token_max_lifetime_days: days(values.tokenMaxDays),
      // In the order they are offered, whatever order they were checked in.
      allowed_routes: offered.filter((r) => values.routes.includes(r)),
    };
    setSentRoutes(body.allowed_routes ?? []);
    put.mutate(body, { onSuccess: () => setSaved(true) });
  }

  return (
    <Form onSubmit={submit} noValidate aria-label="Self-service settings">
      <div>
        <Label color={settings.source === "stored" ? "green" : "blue"}>
          {settings.source === "stored" ? "saved by an administrator" : "from the server's configuration"}
        </Label>
      </div>
      {GROUPS.map(([group, legend]) => (
        <LimitsFields
          key={group}
          idPrefix={group}
          legend={legend}
          value={values.limits[group]}
          errors={merged.limits[group]}
          readOnly={!canChange}
          onChange={(field, v) =>
            setValues((prev) => ({ ...prev, limits: { ...prev.limits, [group]: { ...prev.limits[group], [field]: v } } }))
          }
        />
      ))}
      <Grid hasGutter md={6}>
        {LIFETIMES.map(([field, label, hint]) => {
          const error = merged.days[field];
          return (
            <GridItem key={field}>
              <TextField
                id={field}
                label={label}
                error={error}
                hint={hint}
                value={values.days[field]}
                inputMode="numeric"
                readOnlyVariant={canChange ? undefined : "default"}
                placeholder={canChange ? undefined : "none"}
                onChange={(_e, v) => setValues((prev) => ({ ...prev, days: { ...prev.days, [field]: v } }))}
              />
            </GridItem>
          );
        })}
      </Grid>
      <Fieldset legend="Keys">
        <Grid hasGutter>
          <GridItem md={6}>
            <TextField
              id="max_live_keys_per_user"
              label="Most live keys per user"
              error={merged.maxLiveKeys}
              hint={`Keys being created or active that one user may hold, 1 to ${MAX_LIVE_KEYS}. A user at the most revokes a key before creating another.`}
              value={values.maxLiveKeys}
              inputMode="numeric"
              readOnlyVariant={canChange ? undefined : "default"}
              onChange={(_e, v) => setValues((prev) => ({ ...prev, maxLiveKeys: v }))}
            />
          </GridItem>
          <GridItem span={12}>
            <FormGroup
              label="Routes keys may call"
              role="group"
              isRequired={canChange}
              fieldId="allowed_routes"
              aria-describedby="allowed_routes-help"
            >
              <Grid hasGutter md={6} lg={4} xl={3}>
                {offered.map((route, i) => (
                  <GridItem key={route}>
                    <Checkbox
                      id={`allowed-route-${i}`}
                      label={<code>{route}</code>}
                      isChecked={values.routes.includes(route)}
                      isDisabled={!canChange}
                      onChange={(_e, on) =>
                        setValues((prev) => ({
                          ...prev,
                          routes: on ? [...prev.routes, route] : prev.routes.filter((r) => r !== route),
                        }))
                      }
                    />
                  </GridItem>
                ))}
              </Grid>
              <FormHelperText>
                <HelperText id="allowed_routes-help">
                  {merged.routes && <HelperTextItem variant="error">{merged.routes}</HelperTextItem>}
                  <HelperTextItem>
                    The only LiteLLM routes keys may call; at least one. Keys get these routes on their next change
                    (when created, edited or rotated), and the reconciler brings the others there on its next pass.
                    Only LiteLLM&apos;s inference routes are offered: management routes never are.
                  </HelperTextItem>
                </HelperText>
              </FormHelperText>
            </FormGroup>
          </GridItem>
        </Grid>
      </Fieldset>
      <Fieldset legend="Access tokens">
        <Grid hasGutter>
          <GridItem md={6}>
            <TextField
              id="token_max_lifetime_days"
              label="Longest token lifetime (days)"
              error={merged.tokenMaxDays}
              hint={`The longest a personal access token made from now on may live, 1 to ${MAX_TOKEN_DAYS} days; tokens must then expire. Empty: no maximum beyond ${MAX_TOKEN_DAYS} days, and tokens may be made without expiry.`}
              value={values.tokenMaxDays}
              inputMode="numeric"
              readOnlyVariant={canChange ? undefined : "default"}
              placeholder={canChange ? undefined : "none"}
              onChange={(_e, v) => setValues((prev) => ({ ...prev, tokenMaxDays: v }))}
            />
          </GridItem>
        </Grid>
      </Fieldset>
      <ProblemAlert error={put.error} title="The settings were not saved" />
      {saved && <Alert variant="success" isInline title="Settings saved." role="status" />}
      {canChange && (
        <ActionGroup>
          <Button type="submit" variant="primary" isLoading={put.isPending} isDisabled={put.isPending}>
            Save settings
          </Button>
        </ActionGroup>
      )}
    </Form>
  );
}
