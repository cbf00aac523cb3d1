// Personal access tokens (for scripts and CI calling keyport's API). These paths are part of issue 5's auth
// contract; until they are in docs/openapi.json their types are written here.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { request } from "./client";

export interface AccessToken {
  id: string;
  name: string;
  prefix: string;
  scopes?: string[];
  expires_at?: string | null;
  last_used_at?: string | null;
  created_at: string;
  revoked_at?: string | null;
}

export interface CreatedAccessToken {
  token: AccessToken;
  secret: string;
}

const KEY = ["access-tokens"] as const;

export function useAccessTokens() {
  return useQuery({
    queryKey: KEY,
    queryFn: async () => (await request<{ items: AccessToken[] }>("GET", "/api/v1/access-tokens")).items,
  });
}

export function useCreateAccessToken() {
  const client = useQueryClient();
  return useMutation({
    gcTime: 0, // the answer holds the secret
    mutationFn: (body: { name: string; expires_at: string | null }) =>
      request<CreatedAccessToken>("POST", "/api/v1/access-tokens", body),
    onSuccess: () => client.invalidateQueries({ queryKey: KEY }),
  });
}

export function useRevokeAccessToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => request<AccessToken>("POST", `/api/v1/access-tokens/${encodeURIComponent(id)}/revoke`),
    onSuccess: () => client.invalidateQueries({ queryKey: KEY }),
  });
}
