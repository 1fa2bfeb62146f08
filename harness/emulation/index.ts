/**
 * Offline emulation of the Pulumi `tls` and `random` providers with real crypto.
 *
 * - {@link ProviderEmulation}: a `pulumi.runtime.Mocks` that turns tls/random resources into real
 *   keys, CSRs and certificates and records everything it created.
 * - Pure helpers (`generatePrivateKey`, `createSelfSignedCert`, `createCertRequest`,
 *   `signCertRequest`, ...) with the provider's semantics, for drills that need e.g. a foreign CA or
 *   an already expired client certificate.
 */
export * from "./providerEmulation";
export * from "./tls";
export { fromPem, toPem } from "./der";
