// The administration API (/api/v1/admin) as TanStack Query hooks. Lists are keyset pages: `next_cursor` is
// passed back as `cursor` ("Load more"). Auditors may read every one of them; changes are for admins.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Limits, type Schemas } from "./client";
import { keys } from "./queries";

export type AdminUser = Schemas["AdminUserDto"];
export type AdminUserDetail = Schemas["AdminUserDetail"];
export type AdminKey = Schemas["Page_AdminKeyDto"]["items"][number];
export type AdminSubscription = Schemas["AdminSubscriptionDto"];
export type DecisionResult = Schemas["DecisionResult"];
export type StatusChange = Schemas["StatusChangeDto"];
export type AuditEvent = Schemas["AuditEventDto"];
export type AdminSettings = Schemas["AdminSettingsDto"];
export type SettingsBody = Schemas["SettingsDto"];
export type UpdateModelBody = Schemas["UpdateModelBody"];
export type ModelUpdated = Schemas["ModelUpdatedDto"];
export type ReconcileRun = Schemas["ReconcileRunDto"];
export type UserAccessToken = Schemas["AccessTokenDto"];

const PAGE = 50;

export const adminKeys = {
  all: ["admin"] as const,
  users: (filters: UserFilters) => ["admin", "users", filters] as const,
  user: (id: string) => ["admin", "user", id] as const,
  userAccessTokens: (id: string) => ["admin", "user-access-tokens", id] as const,
  apiKeys: (filters: KeyFilters) => ["admin", "api-keys", filters] as const,
  subscriptions: (filters: SubscriptionFilters) => ["admin", "subscriptions", filters] as const,
  history: (id: string) => ["admin", "subscription-history", id] as const,
  settings: ["admin", "settings"] as const,
  audit: (filters: AuditFilters) => ["admin", "audit", filters] as const,
  reconcile: ["admin", "reconcile"] as const,
};

/** Empty strings are no filter: leave them out of the query. */
function present<T extends Record<string, string | undefined>>(filters: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(filters)) if (v !== undefined && v !== "") (out as Record<string, string>)[k] = v;
  return out;
}

/** Every page's items, in order. */
export function allItems<T>(pages: { items: T[] }[] | undefined): T[] {
  return (pages ?? []).flatMap((p) => p.items);
}

const nextCursor = (last: { next_cursor?: string | null }) => last.next_cursor ?? undefined;

/** The values the API's enums allow (from the OpenAPI document, so the UI never keeps its own list). */
export type Role = Schemas["AdminUserDto"]["roles"][number];
export type UserStatus = Schemas["AdminUserDto"]["status"];
export type KeyStatusValue = Schemas["ApiKeyDto"]["status"];
export type SubscriptionStatus = Schemas["SubscriptionDto"]["status"];
export type JobStatus = Schemas["JobDto"]["status"];

export interface UserFilters {
  q?: string;
  role?: Role;
  status?: UserStatus;
}

export function useAdminUsers(filters: UserFilters) {
  return useInfiniteQuery({
    queryKey: adminKeys.users(filters),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/v1/admin/users", {
          params: { query: { ...present({ ...filters, cursor: pageParam }), limit: PAGE } },
        }),
      ),
    getNextPageParam: nextCursor,
  });
}

export function useAdminUser(id: string) {
  return useQuery({
    queryKey: adminKeys.user(id),
    queryFn: () => unwrap(api.GET("/api/v1/admin/users/{id}", { params: { path: { id } } })),
  });
}

/** After a change to users, keys or subscriptions, every administration list may be stale. */
function useInvalidateAdmin() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: adminKeys.all });
}

export function useChangeRoles() {
  const invalidate = useInvalidateAdmin();
  return useMutation({
    mutationFn: ({ id, roles }: { id: string; roles: Role[] }) =>
      unwrap(api.PATCH("/api/v1/admin/users/{id}", { params: { path: { id } }, body: { roles } })),
    onSuccess: invalidate,
  });
}

export function useSetUserStatus() {
  const invalidate = useInvalidateAdmin();
  return useMutation({
    mutationFn: ({ id, suspend }: { id: string; suspend: boolean }) =>
      suspend
        ? unwrap(api.POST("/api/v1/admin/users/{id}/suspend", { params: { path: { id } } }))
        : unwrap(api.POST("/api/v1/admin/users/{id}/reactivate", { params: { path: { id } } })),
    onSuccess: invalidate,
  });
}

/** A user's personal access tokens, newest first, revoked and expired ones included; never a secret. */
export function useUserAccessTokens(userId: string) {
  return useQuery({
    queryKey: adminKeys.userAccessTokens(userId),
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/admin/users/{id}/access-tokens", { params: { path: { id: userId } } }))).items,
  });
}

/**
 * An administrator revokes a user's live token; it stops working at once. The lists are read again also after
 * a refusal (a 404 when it is no live token of that user any more, perhaps revoked or expired meanwhile), and the
 * own list in case it was the administrator's own token.
 */
export function useRevokeUserAccessToken() {
  const client = useQueryClient();
  const invalidate = useInvalidateAdmin();
  return useMutation({
    mutationFn: ({ userId, tokenId }: { userId: string; tokenId: string }) =>
      unwrap(
        api.POST("/api/v1/admin/users/{id}/access-tokens/{token_id}/revoke", {
          params: { path: { id: userId, token_id: tokenId } },
        }),
      ),
    onSettled: async () => {
      await invalidate();
      await client.invalidateQueries({ queryKey: ["access-tokens"] });
    },
  });
}

export interface KeyFilters {
  user_id?: string;
  status?: KeyStatusValue;
}

export function useAdminKeys(filters: KeyFilters) {
  return useInfiniteQuery({
    queryKey: adminKeys.apiKeys(filters),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/v1/admin/api-keys", {
          params: { query: { ...present({ ...filters, cursor: pageParam }), limit: PAGE } },
        }),
      ),
    getNextPageParam: nextCursor,
    // A revocation LiteLLM has not confirmed yet settles by itself: look again.
    refetchInterval: (query) =>
      query.state.data?.pages.some((p) => p.items.some((k) => k.revocation_pending)) ? 5_000 : false,
  });
}

// An administrator's actions on anybody's key, on its owner's behalf (never a secret). The lists are read
// again afterwards, also after a refusal (a 409 says the key's state does not allow it, perhaps because it
// changed meanwhile).
function useInvalidateKeys() {
  const client = useQueryClient();
  const invalidate = useInvalidateAdmin();
  return async () => {
    await invalidate();
    await client.invalidateQueries({ queryKey: keys.apiKeys });
  };
}

/** Revoke anybody's key, with an optional reason kept in the audit log. */
export function useAdminRevokeKey() {
  const invalidate = useInvalidateKeys();
  return useMutation({
    mutationFn: ({ id, reason }: { id: string; reason?: string }) =>
      unwrap(api.POST("/api/v1/admin/api-keys/{id}/revoke", { params: { path: { id } }, body: reason ? { reason } : {} })),
    onSettled: invalidate,
  });
}

/** Block anybody's key, with the reason its owner sees. */
export function useBlockKey() {
  const invalidate = useInvalidateKeys();
  return useMutation({
    mutationFn: ({ id, reason }: { id: string; reason: string }) =>
      unwrap(api.POST("/api/v1/admin/api-keys/{id}/block", { params: { path: { id } }, body: { reason } })),
    onSettled: invalidate,
  });
}

/** Lift an administrator's block. */
export function useUnblockKey() {
  const invalidate = useInvalidateKeys();
  return useMutation({
    mutationFn: (id: string) => unwrap(api.POST("/api/v1/admin/api-keys/{id}/unblock", { params: { path: { id } } })),
    onSettled: invalidate,
  });
}

/** Replace anybody's key's limits (within its owner's quotas), with an optional reason. */
export function useSetKeyLimits() {
  const invalidate = useInvalidateKeys();
  return useMutation({
    mutationFn: ({ id, limits, reason }: { id: string; limits: Limits; reason?: string }) =>
      unwrap(
        api.PUT("/api/v1/admin/api-keys/{id}/limits", {
          params: { path: { id } },
          body: reason ? { limits, reason } : { limits },
        }),
      ),
    onSettled: invalidate,
  });
}

export interface SubscriptionFilters {
  status?: SubscriptionStatus;
  user_id?: string;
  model_id?: string;
}

export function useAdminSubscriptions(filters: SubscriptionFilters, options: { poll?: boolean } = {}) {
  return useInfiniteQuery({
    queryKey: adminKeys.subscriptions(filters),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/v1/admin/subscriptions", {
          params: { query: { ...present({ ...filters, cursor: pageParam }), limit: PAGE } },
        }),
      ),
    getNextPageParam: nextCursor,
    refetchInterval: options.poll ? 30_000 : false,
  });
}

export function useSubscriptionHistory(id: string, enabled: boolean) {
  return useQuery({
    queryKey: adminKeys.history(id),
    enabled,
    queryFn: async () =>
      (await unwrap(api.GET("/api/v1/admin/subscriptions/{id}/history", { params: { path: { id } } }))).items,
  });
}

export function useDecideSubscriptions() {
  const client = useQueryClient();
  const invalidate = useInvalidateAdmin();
  return useMutation({
    mutationFn: ({ ids, reject }: { ids: string[]; reject?: { reason: string } }) =>
      reject
        ? unwrap(api.POST("/api/v1/admin/subscriptions/reject", { body: { ids, reason: reject.reason } }))
        : unwrap(api.POST("/api/v1/admin/subscriptions/approve", { body: { ids } })),
    onSuccess: async () => {
      await invalidate();
      await client.invalidateQueries({ queryKey: keys.subscriptions });
    },
  });
}

export function useGrantSubscription() {
  const invalidate = useInvalidateAdmin();
  return useMutation({
    mutationFn: (body: { user_id: string; model_id: string; quota?: Limits | null }) =>
      unwrap(api.POST("/api/v1/admin/subscriptions", { body })),
    onSuccess: invalidate,
  });
}

/** After an administrator's change of one subscription: the admin lists, and the own lists in case it is theirs. */
function useInvalidateSubscription() {
  const client = useQueryClient();
  const invalidate = useInvalidateAdmin();
  return async () => {
    await invalidate();
    await client.invalidateQueries({ queryKey: keys.subscriptions });
    await client.invalidateQueries({ queryKey: keys.apiKeys });
  };
}

// An administrator's changes of one subscription. The lists are read again afterwards, also after a refusal
// (a 409 says the subscription's status does not allow it, perhaps because it changed meanwhile).

/** Suspend an active subscription, with a reason the user sees. */
export function useSuspendSubscription() {
  const invalidate = useInvalidateSubscription();
  return useMutation({
    mutationFn: ({ id, reason }: { id: string; reason: string }) =>
      unwrap(api.POST("/api/v1/admin/subscriptions/{id}/suspend", { params: { path: { id } }, body: { reason } })),
    onSettled: invalidate,
  });
}

/** Reactivate a suspended subscription. */
export function useReactivateSubscription() {
  const invalidate = useInvalidateSubscription();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/admin/subscriptions/{id}/reactivate", { params: { path: { id } } })),
    onSettled: invalidate,
  });
}

/** Revoke a pending, active or suspended subscription, with a reason the user sees: it becomes cancelled. */
export function useRevokeSubscription() {
  const invalidate = useInvalidateSubscription();
  return useMutation({
    mutationFn: ({ id, reason }: { id: string; reason: string }) =>
      unwrap(api.POST("/api/v1/admin/subscriptions/{id}/revoke", { params: { path: { id } }, body: { reason } })),
    onSettled: invalidate,
  });
}

/** Replace an active or suspended subscription's quota: every limit replaces, an empty one is unlimited. */
export function useChangeSubscriptionQuota() {
  const invalidate = useInvalidateSubscription();
  return useMutation({
    mutationFn: ({ id, quota }: { id: string; quota: Limits }) =>
      unwrap(api.PUT("/api/v1/admin/subscriptions/{id}/quota", { params: { path: { id } }, body: { quota } })),
    onSettled: invalidate,
  });
}

export function useUpdateModel() {
  const client = useQueryClient();
  const invalidate = useInvalidateAdmin();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: UpdateModelBody }) =>
      unwrap(api.PATCH("/api/v1/admin/models/{id}", { params: { path: { id } }, body })),
    onSuccess: async (answer) => {
      await client.invalidateQueries({ queryKey: keys.models });
      if (answer.approved_subscription_ids.length > 0) {
        await invalidate();
        await client.invalidateQueries({ queryKey: keys.subscriptions });
      }
    },
  });
}

export function useAdminSettings() {
  return useQuery({
    queryKey: adminKeys.settings,
    queryFn: () => unwrap(api.GET("/api/v1/admin/settings")),
  });
}

export function usePutSettings() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: SettingsBody) => unwrap(api.PUT("/api/v1/admin/settings", { body })),
    onSuccess: async (answer) => {
      client.setQueryData(adminKeys.settings, answer);
      await client.invalidateQueries({ queryKey: ["settings", "self-service"] });
    },
  });
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  target_type?: string;
  target_id?: string;
  request_id?: string;
  since?: string;
  until?: string;
}

export function useAudit(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: adminKeys.audit(filters),
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/v1/admin/audit", {
          params: { query: { ...present({ ...filters, cursor: pageParam }), limit: 50 } },
        }),
      ),
    getNextPageParam: nextCursor,
  });
}

/** The reconciler's recent passes (every replica and `keyport reconcile`), newest first. */
export function useReconcileRuns(limit = 20) {
  return useQuery({
    queryKey: adminKeys.reconcile,
    queryFn: () => unwrap(api.GET("/api/v1/admin/reconcile", { params: { query: { limit } } })),
  });
}
