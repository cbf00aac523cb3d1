import type { JobStatus } from "./admin";
// TanStack Query hooks over the typed client: one key per resource, invalidated by the mutations.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type ApiKey, type CreateApiKey, type UpdateApiKey } from "./client";
import { fetchMe } from "./auth";

export const keys = {
  config: ["config"] as const,
  me: ["me"] as const,
  models: ["models"] as const,
  model: (id: string) => ["models", id] as const,
  subscriptions: ["subscriptions"] as const,
  apiKeys: ["api-keys"] as const,
  jobs: (status: string) => ["admin", "jobs", status] as const,
};

export function useConfig() {
  return useQuery({
    queryKey: keys.config,
    queryFn: () => unwrap(api.GET("/api/v1/config")),
    staleTime: 5 * 60_000,
  });
}

export function useMe() {
  return useQuery({ queryKey: keys.me, queryFn: fetchMe, staleTime: 60_000, retry: false });
}

/** The administrator's defaults and maximums for self-service keys (what the key forms prefill and cap). */
export function useSelfServiceSettings() {
  return useQuery({
    queryKey: ["settings", "self-service"],
    queryFn: () => unwrap(api.GET("/api/v1/settings/self-service")),
    staleTime: 60_000,
  });
}

export function useModels() {
  return useQuery({
    queryKey: keys.models,
    queryFn: async () => (await unwrap(api.GET("/api/v1/models"))).items,
  });
}

export function useModel(id: string) {
  return useQuery({
    queryKey: keys.model(id),
    queryFn: () => unwrap(api.GET("/api/v1/models/{id}", { params: { path: { id } } })),
  });
}

export function useSubscriptions() {
  return useQuery({
    queryKey: keys.subscriptions,
    queryFn: async () => (await unwrap(api.GET("/api/v1/subscriptions"))).items,
  });
}

/** The most keys one page of `GET /api-keys` may carry. */
const KEY_PAGE = 200;

/**
 * All of your keys, newest first. The list comes a page at a time (`next_cursor` back as `cursor`, as the admin
 * lists); the keys page and the subscriptions' spend need every key, so read the pages until the last. A user
 * holds few keys (live ones are capped), so this is one request nearly always.
 */
export async function fetchAllApiKeys(): Promise<ApiKey[]> {
  const all: ApiKey[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const query = cursor === undefined ? { limit: KEY_PAGE } : { limit: KEY_PAGE, cursor };
    const page = await unwrap(api.GET("/api/v1/api-keys", { params: { query } }));
    all.push(...page.items);
    cursor = page.next_cursor ?? undefined;
    // A cursor the server gave before would loop forever: stop rather than hang the page.
    if (cursor !== undefined && seen.has(cursor)) break;
    if (cursor !== undefined) seen.add(cursor);
  } while (cursor !== undefined);
  return all;
}

export function useApiKeys() {
  return useQuery({
    queryKey: keys.apiKeys,
    queryFn: fetchAllApiKeys,
    // A revocation LiteLLM has not confirmed yet, or a change not yet applied, settles by itself: look again.
    refetchInterval: (query) =>
      query.state.data?.some(
        (k) => k.revocation_pending || k.status === "provisioning" || k.sync_state === "pending",
      )
        ? 5_000
        : false,
  });
}

export function useSubscribe() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (modelId: string) =>
      unwrap(api.POST("/api/v1/subscriptions", { body: { model_id: modelId } })),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.subscriptions }),
  });
}

export function useCancelSubscription() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/subscriptions/{id}/cancel", { params: { path: { id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.subscriptions }),
  });
}

export function useCreateKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateApiKey) => unwrap(api.POST("/api/v1/api-keys", { body })),
    gcTime: 0, // the answer holds the secret: keep it nowhere once the dialog is gone
    onSuccess: () => client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useRotateKey() {
  const client = useQueryClient();
  return useMutation({
    gcTime: 0, // the answer holds the secret
    mutationFn: ({ id, overlapSeconds }: { id: string; overlapSeconds: number }) =>
      unwrap(
        api.POST("/api/v1/api-keys/{id}/rotate", {
          params: { path: { id } },
          body: { overlap_seconds: overlapSeconds },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useUpdateKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: UpdateApiKey }) =>
      unwrap(api.PATCH("/api/v1/api-keys/{id}", { params: { path: { id } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useRevokeKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/api-keys/{id}/revoke", { params: { path: { id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useJobs(status: JobStatus) {
  return useQuery({
    queryKey: keys.jobs(status),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/admin/jobs", {
          params: { query: { status, limit: 100 } },
        }),
      ),
  });
}
