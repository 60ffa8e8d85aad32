import { openSession, type Session } from '../src/session.js';

/**
 * Sessions by (env, runtime params): node activities of one run share one loaded configuration
 * and catalog instead of re-reading YAML for every node. The least recently used goes first: a
 * sweep's runs each have their own params, and its own session is used at its start and end.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<Session>>();
  constructor(
    private readonly projectDir: string,
    private readonly maxEntries = 64,
  ) {}

  get(env: string, runtimeParams: Record<string, unknown>): Promise<Session> {
    // The JSON itself is the key: hashing it cost more than the lookup, once per node activity.
    const key = JSON.stringify([env, runtimeParams]);
    let session = this.sessions.get(key);
    if (session) {
      this.sessions.delete(key);
      this.sessions.set(key, session);
    } else {
      if (this.sessions.size >= this.maxEntries)
        this.sessions.delete(this.sessions.keys().next().value!);
      session = openSession({ projectDir: this.projectDir, env, runtimeParams });
      session.catch(() => this.sessions.delete(key));
      this.sessions.set(key, session);
    }
    return session;
  }
}
