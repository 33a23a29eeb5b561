// The cases every worker of `bench/compare.ts` can run: a leaf, so that the
// compare can list them without loading a worker.

/**
 * How calls are in flight. `one`: one after another. `lanes`: `inFlight`
 * independent loops, each awaiting its own call before making the next, so
 * calls start and finish at any moment. `bursts`: `inFlight` calls made
 * together (`Promise.all`), awaited, and the next burst made, as a request
 * handler fanning out does.
 */
export type Shape = "one" | "lanes" | "bursts";

/** The cases, in the order they run and the report lists them. */
export const CASES = [
  { name: "get, 1 in flight", op: "get", shape: "one", inFlight: 1 },
  { name: "get, 100 lanes", op: "get", shape: "lanes", inFlight: 100 },
  { name: "get, bursts of 100", op: "get", shape: "bursts", inFlight: 100 },
  { name: "set, 1 in flight", op: "set", shape: "one", inFlight: 1 },
  { name: "set, 100 lanes", op: "set", shape: "lanes", inFlight: 100 },
  { name: "set, bursts of 100", op: "set", shape: "bursts", inFlight: 100 },
  { name: "getMany 1000 keys", op: "getMany", shape: "one", inFlight: 1 },
] as const;

/** A case's name. */
export type CaseName = typeof CASES[number]["name"];
