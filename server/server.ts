/**
 * The ddb server: accepts RESP connections, tracks them, and shuts down
 * cleanly (in-flight commands finish, databases close).
 *
 * @module
 */

import type { ServerConfig } from "./config.ts";
import { type DatabaseOpeners, DatabaseRegistry } from "./database.ts";
import { Executor } from "./executor.ts";
import { Connection } from "./conn.ts";
import { Session } from "./session.ts";
import type { Logger } from "./log/logger.ts";
import type { CommandSpec, ServerState, ServerStats } from "./commands/command_spec.ts";
import { buildCommandTable } from "./commands/table.ts";

/** How long SHUTDOWN waits for busy connections before closing them. */
const DRAIN_TIMEOUT_MS = 30_000;
/** How often slow and stuck clients are looked for. */
const WATCH_INTERVAL_MS = 1_000;

/** Parts a server is built from. */
export interface ServerOptions {
  /** The resolved configuration. */
  config: ServerConfig;
  /** The logger. */
  logger: Logger;
  /** How databases are opened. */
  openers: DatabaseOpeners;
  /** The clock (ms since the epoch). */
  now?: () => number;
}

/** A running server. */
export class Server implements ServerState {
  readonly config: ServerConfig;
  readonly databases: DatabaseRegistry;
  readonly logger: Logger;
  readonly stats: ServerStats = {
    connectionsReceived: 0,
    connectedClients: 0,
    commandsProcessed: 0,
    rejectedConnections: 0,
  };
  readonly startedAt: number;
  readonly commands: ReadonlyMap<string, CommandSpec> = buildCommandTable();
  readonly now: () => number;
  readonly #listener: Deno.TcpListener;
  readonly #executor: Executor;
  readonly #connections = new Set<Connection>();
  readonly #serving = new Set<Promise<void>>();
  readonly #watch: ReturnType<typeof setInterval>;
  #nextId = 1;
  #shutdown: Promise<void> | undefined;
  readonly #finished: PromiseWithResolvers<void> = Promise.withResolvers();

  private constructor(options: ServerOptions, listener: Deno.TcpListener) {
    this.config = options.config;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
    this.databases = new DatabaseRegistry(options.openers);
    this.#listener = listener;
    this.#executor = new Executor(this);
    this.#watch = setInterval(() => this.#dropStuckClients(), WATCH_INTERVAL_MS);
  }

  /**
   * Opens the default database, listens, and starts accepting. Resolves once
   * the server is ready; {@linkcode Server.finished} resolves when it stops.
   */
  static async start(options: ServerOptions): Promise<Server> {
    const { hostname, port } = options.config.listen;
    const listener = Deno.listen({ hostname, port, transport: "tcp" });
    let server: Server;
    try {
      server = new Server(options, listener);
      await server.databases.get("default");
    } catch (error) {
      listener.close();
      throw error;
    }
    server.#acceptLoop();
    return server;
  }

  /** The address listened on, `host:port`. */
  get address(): string {
    const { hostname, port } = this.#listener.addr;
    return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
  }

  /** The TCP port listened on. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Resolves when the server has shut down. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#shutdown !== undefined || error instanceof Deno.errors.BadResource) return;
        this.logger.error("accept.failed", { error: String(error) });
        continue;
      }
      this.#accept(conn);
    }
  }

  #accept(conn: Deno.TcpConn): void {
    const peer = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
    this.stats.connectionsReceived++;
    if (this.#connections.size >= this.config.limits.maxClients) {
      this.stats.rejectedConnections++;
      this.logger.warn("conn.rejected", { peer, reason: "maxclients" });
      conn.write(new TextEncoder().encode("-ERR max number of clients reached\r\n"))
        .catch(() => {}).finally(() => conn.close());
      return;
    }
    conn.setNoDelay(true);
    const db = this.databases.opened().find((d) => d.name === "default");
    if (db === undefined) throw new Error("the default database is not open");
    const session = new Session(this.#nextId++, peer, db, this.config.requirePass === undefined);
    const connection = new Connection(
      conn,
      session,
      this.#executor,
      {
        maxBulkBytes: this.config.limits.maxBulkBytes,
        maxRequestBytes: this.config.limits.maxRequestBytes,
        maxArgs: this.config.limits.maxArgs,
      },
      this.logger,
      this.now,
    );
    this.#connections.add(connection);
    this.stats.connectedClients = this.#connections.size;
    this.logger.debug("conn.open", { peer, id: session.id });
    const serving = connection.serve().finally(() => {
      this.#connections.delete(connection);
      this.#serving.delete(serving);
      this.stats.connectedClients = this.#connections.size;
      this.logger.debug("conn.close", { peer, id: session.id });
    });
    this.#serving.add(serving);
  }

  #dropStuckClients(): void {
    const deadline = this.now() - this.config.limits.requestTimeoutMs;
    for (const connection of this.#connections) {
      if (connection.partial && !connection.busy && connection.lastProgress < deadline) {
        this.stats.rejectedConnections++;
        this.logger.warn("conn.timeout", {
          peer: connection.session.peer,
          reason: "partial request made no progress",
        });
        connection.close();
      }
    }
  }

  /** Asks the server to stop; see {@linkcode Server.shutdown}. */
  requestShutdown(reason: string): void {
    this.shutdown(reason).catch((error) =>
      this.logger.error("shutdown.failed", { error: String(error) })
    );
  }

  /**
   * Stops accepting, lets running commands finish and write their replies,
   * closes every connection and database. Idempotent.
   */
  shutdown(reason: string): Promise<void> {
    this.#shutdown ??= this.#doShutdown(reason);
    return this.#shutdown;
  }

  async #doShutdown(reason: string): Promise<void> {
    this.logger.info("shutdown.start", { reason, clients: this.#connections.size });
    clearInterval(this.#watch);
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    // Let the reply of the command that asked for shutdown go out first.
    await new Promise((resolve) => setTimeout(resolve, 0));
    for (const connection of this.#connections) connection.drain();
    const timeout = new Promise<"timeout">((resolve) => {
      const id = setTimeout(() => resolve("timeout"), DRAIN_TIMEOUT_MS);
      Deno.unrefTimer(id);
    });
    const outcome = await Promise.race([Promise.all(this.#serving).then(() => "ok"), timeout]);
    if (outcome === "timeout") {
      this.logger.warn("shutdown.forced", { clients: this.#connections.size });
      for (const connection of this.#connections) connection.close();
      await Promise.all(this.#serving);
    }
    await this.databases.closeAll();
    this.logger.info("shutdown.done");
    this.#finished.resolve();
  }
}
