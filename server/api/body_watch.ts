/**
 * @module
 * The server's watch over request bodies as they arrive. A body that is sent a few bytes and then nothing must not
 * hold a connection, or the bodies-in-flight budget, for as long as its client likes: the server that owns the
 * connections (the CLI's front door, `http/front_door.ts`) times out a body that arrives too slowly, and the code
 * reading it (`body.ts`) tells it when a read starts, how many bytes arrived, and when it is over.
 *
 * The watch reaches handlers with the connection info (`ServeInfo.body`), beside `Deno.serve`'s own fields; a
 * server without one (`Deno.serve`, Deno Deploy) leaves it out and bodies are read without a deadline.
 */

/** One body being read: told as bytes arrive and when the read is over. */
export interface BodyReading {
  /** `bytes` more of the body arrived (each one extends its deadline at the minimum rate). */
  received(bytes: number): void;
  /** The read is over (the body arrived whole, or reading it failed). Idempotent. */
  done(): void;
}

/** Watches a request's body from the moment its read starts. */
export interface BodyWatch {
  /**
   * Starts watching a body read. `cut` is called at most once, when the body has arrived too slowly: the reader
   * stops waiting for it and answers 408 (the server then closes the connection once that answer is sent).
   */
  start(cut: () => void): BodyReading;
}

/** `Deno.serve`'s handler info, with the body watch of a server that has one. */
export type ServeInfo = Deno.ServeHandlerInfo & { readonly body?: BodyWatch };
