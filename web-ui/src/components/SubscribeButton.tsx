// Subscribe to a model (or request access to a restricted one), or show where the subscription stands.
import { Button, Label, Tooltip } from "@patternfly/react-core";
import type { Model, Subscription } from "../api/client";
import { useSubscribe } from "../api/queries";
import { ProblemAlert } from "./States";

const STATUS_COLOR: Record<string, "green" | "orange" | "grey" | "red" | "blue"> = {
  active: "green",
  pending: "orange",
  cancelled: "grey",
  rejected: "red",
  suspended: "red",
};

export function SubscriptionLabel({ subscription }: { subscription: Subscription }) {
  const label = (
    <Label color={STATUS_COLOR[subscription.status] ?? "blue"}>
      {subscription.status === "pending" ? "pending approval" : subscription.status}
    </Label>
  );
  return subscription.status_reason ? (
    <Tooltip content={subscription.status_reason}>
      <span tabIndex={0} aria-label={`${subscription.status}: ${subscription.status_reason}`}>
        {label}
      </span>
    </Tooltip>
  ) : (
    label
  );
}

/** Whether the user may ask for this model now (no subscription, or one that ended). */
function canRequest(subscription: Subscription | undefined): boolean {
  return !subscription || subscription.status === "cancelled" || subscription.status === "rejected";
}

export function SubscribeButton({ model, subscription }: { model: Model; subscription?: Subscription }) {
  const subscribe = useSubscribe();
  if (model.availability !== "available") {
    return <Label color="grey">unavailable</Label>;
  }
  if (!canRequest(subscription) && subscription) {
    return <SubscriptionLabel subscription={subscription} />;
  }
  const text = model.restricted ? "Request access" : "Subscribe";
  return (
    <>
      <Button
        variant={model.restricted ? "secondary" : "primary"}
        size="sm"
        onClick={() => subscribe.mutate(model.id)}
        isLoading={subscribe.isPending}
        isDisabled={subscribe.isPending}
        aria-label={`${text}: ${model.display_name}`}
      >
        {text}
      </Button>
      {subscribe.isError && <ProblemAlert error={subscribe.error} title={`Could not subscribe to ${model.display_name}`} />}
    </>
  );
}
