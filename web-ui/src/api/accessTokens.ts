// Personal access tokens (for scripts and CI calling keyport's API).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Schemas } from "./client";

export type AccessToken = Schemas["AccessTokenDto"];
export type CreatedAccessToken = Schemas["CreatedAccessToken"];
export type CreateAccessToken = Schemas["CreateAccessToken"];

const KEY = ["access-tokens"] as const;

export function useAccessTokens() {
  return useQuery({
    queryKey: KEY,
    queryFn: async () => (await unwrap(api.GET("/api/v1/access-tokens"))).items,
  });
}

export function useCreateAccessToken() {
  const client = useQueryClient();
  return useMutation({
    gcTime: 0, // the answer holds the secret
    mutationFn: (body: CreateAccessToken) => unwrap(api.POST("/api/v1/access-tokens", { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: KEY }),
  });
}

export function useRevokeAccessToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/access-tokens/{id}/revoke", { params: { path: { id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: KEY }),
  });
}
