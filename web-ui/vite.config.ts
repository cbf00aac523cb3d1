/// <reference types="vitest/config" />
// Vite builds the app into dist/ (served by the keyport binary); `npm run dev` serves it with hot reload and
// proxies /api to a running keyport (KEYPORT_URL, default http://127.0.0.1:8080), so the browser sees one
// origin and the session cookies work as in production.
import { readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

const keyport = process.env.KEYPORT_URL ?? "http://127.0.0.1:8080";

/**
 * The API reference keyport serves at /api/docs: Scalar's standalone bundle (the version pinned in
 * package-lock.json) copied into dist/assets under its content hash, so it is cached like the app's own
 * scripts, and the page api-docs.html written to dist/ naming it. keyport serves both from its own origin
 * under the web app's Content-Security-Policy; nothing is loaded from a CDN.
 */
function apiDocs(): Plugin {
  const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8");
  return {
    name: "keyport-api-docs",
    apply: "build",
    generateBundle() {
      // The source map is not shipped: drop its reference, or a browser's developer tools ask for it.
      const bundle = read("./node_modules/@scalar/api-reference/dist/browser/standalone.js").replace(
        /\n\/\/# sourceMappingURL=\S+\s*$/,
        "\n",
      );
      const script = this.getFileName(this.emitFile({ type: "asset", name: "api-reference.js", source: bundle }));
      const page = read("./api-docs.html").replace("%API_REFERENCE_SCRIPT%", script);
      if (page.includes("%API_REFERENCE_SCRIPT%")) this.error("api-docs.html names the script twice");
      this.emitFile({ type: "asset", fileName: "api-docs.html", source: page });
    },
  };
}

export default defineConfig({
  plugins: [react(), apiDocs()],
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
