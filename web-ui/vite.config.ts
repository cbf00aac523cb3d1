/// <reference types="vitest/config" />
// Vite builds the app into dist/ (served by the keyport binary); `npm run dev` serves it with hot reload and
// proxies /api to a running keyport (KEYPORT_URL, default http://127.0.0.1:8080), so the browser sees one
// origin and the session cookies work as in production.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const keyport = process.env.KEYPORT_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 2048,
  },
  server: {
    port: Number(process.env.WEB_DEV_PORT ?? 5173),
    strictPort: false,
    proxy: {
      "/api": { target: keyport, changeOrigin: false },
    },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    testTimeout: 20000,
  },
});
