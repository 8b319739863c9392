/** Nest injection token of the WardenRuntime that the composition root built. */
export const WARDEN_RUNTIME = Symbol('WARDEN_RUNTIME');
