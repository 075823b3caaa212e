/**
 * nginx serving a folder of files, as the reference for the part-serving figure: one worker,
 * sendfile, access log off, in its own temp prefix. Debian's nginx (apt) is required.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../src/cluster/local/util.js';
import { removeTempDir, stop, tempDir, track } from './processes.js';

export interface StaticNginx {
  url: string;
  stop(): Promise<void>;
}

export async function startStaticNginx(root: string): Promise<StaticNginx> {
  const prefix = tempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-bench-nginx-')));
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { audio/mp4 m4s mp4; }
  client_body_temp_path ${prefix}/tmp;
  proxy_temp_path ${prefix}/tmp;
  fastcgi_temp_path ${prefix}/tmp;
  uwsgi_temp_path ${prefix}/tmp;
  scgi_temp_path ${prefix}/tmp;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    add_header Cache-Control "public, max-age=31536000, immutable";
    add_header Access-Control-Allow-Origin "*";
  }
}
`,
  );
  const child = track(spawn('nginx', ['-p', prefix, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(url);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`nginx did not start (${fs.readFileSync(path.join(prefix, 'error.log'), 'utf8')})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    url,
    stop: async () => {
      await stop(child);
      removeTempDir(prefix);
    },
  };
}
