/**
 * A free TCP port on the loopback interface.
 *
 * @module
 */

/**
 * A port that was free on 127.0.0.1 a moment ago: the kernel picks one for a
 * listener that is closed at once. Another process could take it before the
 * caller binds it; on loopback in a benchmark that risk is accepted.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}
