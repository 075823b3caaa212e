/** The app's known paths as patterns, so a wrong method gets 405 + Allow and OPTIONS can say what a path takes. */
export class MethodTable {
  private readonly routes: Array<{ re: RegExp; method: string }> = [];

  add(url: string, methods: string | string[]): void {
    const source = url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+');
    for (const method of [methods].flat()) this.routes.push({ re: new RegExp(`^${source}$`), method });
  }

  /** The methods of the routes at `path` (without its query), in the order they were registered. */
  allowed(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.re.test(path)).map((r) => r.method))];
  }
}
