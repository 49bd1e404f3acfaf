// Plain ESM so Jest runs it untransformed; the TypeScript it needs is loaded through tsx, so the cluster code
// exists once, in tools/pg/cluster.ts.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { setUpTestDatabase } = await tsImport('./helpers/pg-global.ts', import.meta.url);
  // Jest gives the global teardown the same realm as the global setup, and nothing else.
  globalThis.__llmGatewayTestDatabase = await setUpTestDatabase();
}
