/**
 * Content-Security-Policy violations in a browser context: every `securitypolicyviolation` event of
 * every page and frame (reported through a binding, so navigations lose nothing) and every console
 * error that names the policy. A page the policy breaks shows up here before it shows up as a bug.
 */
import type { BrowserContext } from 'playwright-core';

export interface CspWatch {
  /** What was refused so far, one line each (directive, blocked URI, page). */
  readonly violations: string[];
}

export async function watchCsp(context: BrowserContext): Promise<CspWatch> {
  const violations: string[] = [];
  await context.exposeBinding('__rostrumCspViolation', (_source, line: string) => {
    violations.push(line);
  });
  await context.addInitScript(() => {
    const g = globalThis as any;
    g.document.addEventListener('securitypolicyviolation', (e: any) =>
      g.__rostrumCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} on ${e.documentURI}`),
    );
  });
  context.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  return { violations };
}
