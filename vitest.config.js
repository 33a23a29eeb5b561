// vitest runs only Keyv's adapter suite; everything else is node:test.
import { defineConfig } from "vitest/config";

export default defineConfig({ test: { include: ["keyv_suite.test.js"] } });
