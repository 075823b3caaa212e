/** `rostrum webhook add|list|remove|deliveries|retry`: the operator's webhook endpoints and their deliveries. */
import { Command } from 'commander';
import { WEBHOOK_EVENTS } from '../webhooks/events.js';
import { ApiClient, CliError } from './client.js';
import { withServerOptions } from './options.js';

interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string;
  createdAt: string;
  secret?: string;
}

interface DeliveryView {
  id: string;
  type: string;
  spaceId: string;
  sequence: number;
  state: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string | null;
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function webhookCommand(): Command {
  const webhook = new Command('webhook').description('webhook endpoints: what the operator’s backend is told, signed (Standard Webhooks)');

  withServerOptions(webhook.command('add <url>'))
    .description('add an endpoint; prints its signing secret, which is shown only now')
    .option('--events <types>', `comma-separated: ${WEBHOOK_EVENTS.join(', ')}, or * for all`, '*')
    .option('--description <text>', 'what it is for')
    .option('--json', 'print one JSON object')
    .action(async (url: string, opts) => {
      const events = String(opts.events)
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      const unknown = events.filter((e) => e !== '*' && !(WEBHOOK_EVENTS as readonly string[]).includes(e));
      if (unknown.length > 0) throw new CliError(`unknown event type ${unknown.join(', ')}; the types are ${WEBHOOK_EVENTS.join(', ')}`);
      const created = await new ApiClient(opts).request<WebhookView>('POST', '/api/webhooks', {
        url,
        events,
        ...(opts.description ? { description: opts.description } : {}),
      });
      if (opts.json) return json(created);
      process.stdout.write(`${created.id}  ${created.url}  ${created.events.join(',')}\n  secret: ${created.secret}\n`);
    });

  withServerOptions(webhook.command('list'))
    .description('the endpoints (without their secrets)')
    .option('--json', 'print one JSON array')
    .action(async (opts) => {
      const { webhooks } = await new ApiClient(opts).request<{ webhooks: WebhookView[] }>('GET', '/api/webhooks');
      if (opts.json) return json(webhooks);
      if (webhooks.length === 0) process.stdout.write('no webhooks\n');
      for (const w of webhooks)
        process.stdout.write(`${w.id}  ${w.url}  ${w.events.join(',')}${w.description ? `  ${w.description}` : ''}\n`);
    });

  withServerOptions(webhook.command('remove <id>'))
    .description('remove an endpoint (its pending deliveries are dropped)')
    .action(async (id: string, opts) => {
      await new ApiClient(opts).request('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
      process.stdout.write(`removed ${id}\n`);
    });

  withServerOptions(webhook.command('deliveries'))
    .description('deliveries, newest first')
    .option('--state <state>', 'pending, delivered or failed')
    .option('--webhook <id>', 'only this endpoint’s')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print one JSON array')
    .action(async (opts) => {
      const query = new URLSearchParams({
        limit: String(opts.limit),
        ...(opts.state ? { state: opts.state } : {}),
        ...(opts.webhook ? { webhook: opts.webhook } : {}),
      });
      const { deliveries } = await new ApiClient(opts).request<{ deliveries: DeliveryView[] }>('GET', `/api/webhooks/deliveries?${query}`);
      if (opts.json) return json(deliveries);
      if (deliveries.length === 0) process.stdout.write('no deliveries\n');
      for (const d of deliveries) {
        const next = d.state === 'pending' && d.nextAttemptAt ? `, next ${d.nextAttemptAt}` : '';
        process.stdout.write(
          `${d.id}  ${d.state}  ${d.type}  space ${d.spaceId} #${d.sequence}  ${d.attempts} attempts${d.lastError ? ` (${d.lastError})` : ''}${next}\n`,
        );
      }
    });

  withServerOptions(webhook.command('retry <delivery>'))
    .description('send a delivery again now (a failed one, or any)')
    .action(async (id: string, opts) => {
      await new ApiClient(opts).request('POST', `/api/webhooks/deliveries/${encodeURIComponent(id)}/retry`);
      process.stdout.write(`sending ${id} again\n`);
    });

  return webhook;
}
