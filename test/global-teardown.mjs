export default async function globalTeardown() {
  await globalThis.__llmGatewayTestDatabase?.teardown();
}
