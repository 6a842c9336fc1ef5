/**
 * @module
 * Typed client for Converse Gateway: Bedrock's Converse, ConverseStream, InvokeModel (and its stream) and
 * CountTokens through the gateway, plus its admin API, with typed requests, responses, stream events and errors,
 * retries like the AWS SDKs', in Deno, Node 20+, Bun and browsers. No dependencies.
 *
 * @example
 * ```ts
 * import { createClient, ThrottlingException } from "./mod.ts";
 *
 * const client = createClient({ baseURL: "http://localhost:4000", apiKey: "sk-1234" });
 * const messages = [{ role: "user" as const, content: [{ text: "Hello" }] }];
 *
 * const answer = await client.converse("claude", { messages });
 * console.log(answer.output.message?.content[0].text);
 *
 * try {
 *   for await (const event of client.converseStream("claude", { messages })) {
 *     if (event.contentBlockDelta?.delta.text) console.log(event.contentBlockDelta.delta.text);
 *   }
 * } catch (e) {
 *   if (!(e instanceof ThrottlingException)) throw e;
 * }
 * ```
 */
export { type Client, type ClientOptions, type ClientSettings, createClient } from "./client.ts";
export { clientFromEnv, converse, converseStream } from "./default_client.ts";
export { collect, textStream } from "./collect.ts";
export type { AdminApi, OperationMethod } from "./admin.ts";
export { type FetchLike, type RequestOptions } from "./request.ts";
export { encodeModelId } from "../wire/model_id.ts";
export type { Sleep } from "./retry.ts";
export {
  AccessDeniedException,
  AuthenticationError,
  BudgetExceededError,
  ConflictException,
  ConnectionError,
  ConverseError,
  type ConverseErrorInit,
  IncompleteStreamError,
  InternalServerException,
  ModelErrorException,
  ModelNotReadyException,
  ModelStreamErrorException,
  ModelTimeoutException,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  ServiceUnavailableException,
  ThrottlingException,
  TimeoutError,
  UnknownOperationException,
  UnrecognizedClientException,
  ValidationException,
} from "./errors.ts";
export { EventStreamError } from "../wire/eventstream.ts";
export type {
  ConverseStream,
  ConverseStreamEvent,
  ConverseStreamEventType,
  ConverseStreamOutput,
  InvokeModelResult,
  InvokeModelStream,
} from "./types.ts";
// Every generated body type; the hand-written ConverseStreamEvent above takes precedence over the wire union.
export type * from "./types.gen.ts";
