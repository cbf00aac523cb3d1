import { QueryClient } from "@tanstack/react-query";
import { ApiProblem } from "./api/problem";

/** Retries what may pass (no answer, 5xx) once; a 4xx is an answer, not a hiccup. */
export function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, error) =>
          count < 1 && !(error instanceof ApiProblem && error.status >= 400 && error.status < 500),
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
}
