/**
 * @module
 * Zod schemas of the health routes' answers (LiteLLM's shapes), for `openapi.yaml`, the SDK's types and the
 * compile-time check in `app.ts` that the routes answer what is documented.
 */
import { z } from "zod";

/** `GET /health/liveliness` (and `/health/liveness`): the process is up. */
export const HealthLiveliness = z.literal("I'm alive!").meta({
  id: "HealthLiveliness",
  description: "LiteLLM's liveness answer, a JSON string.",
});
export type HealthLiveliness = z.infer<typeof HealthLiveliness>;

/** `GET /health/readiness`: config loaded and the KV store answering (HTTP 503 with `unhealthy` otherwise). */
export const HealthReadiness = z.looseObject({
  status: z.enum(["healthy", "unhealthy"]),
  db: z.string().meta({ description: "KV store state: `connected` or `disconnected`." }),
}).meta({ id: "HealthReadiness" });
export type HealthReadiness = z.infer<typeof HealthReadiness>;
