// Spend against a budget as a bar; without a budget, the spend alone.
import { Progress, ProgressMeasureLocation, ProgressVariant } from "@patternfly/react-core";
import { formatUsd } from "../format";

export function SpendBar({
  spend,
  budget,
  label,
}: {
  spend: string | null | undefined;
  budget: string | null | undefined;
  label: string;
}) {
  const spent = Number(spend ?? 0);
  const max = budget === null || budget === undefined ? null : Number(budget);
  if (max === null || !Number.isFinite(max) || max <= 0) {
    return (
      <span aria-label={label}>
        {formatUsd(spend ?? "0")} <small>(no budget)</small>
      </span>
    );
  }
  const percent = Math.min(100, Math.max(0, (spent / max) * 100));
  const variant =
    percent >= 100 ? ProgressVariant.danger : percent >= 80 ? ProgressVariant.warning : undefined;
  const text = `${formatUsd(spend ?? "0")} of ${formatUsd(budget)}`;
  return (
    <Progress
      value={percent}
      size="sm"
      aria-label={label}
      label={text}
      valueText={text}
      measureLocation={ProgressMeasureLocation.outside}
      variant={variant}
      style={{ minWidth: "10rem" }}
    />
  );
}
