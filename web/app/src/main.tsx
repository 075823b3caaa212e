/**
 * The web app's entry: `/` is home, `/s/<id>` the space page (the share link). An error page the
 * server rendered (an unknown space or path: `data-error`) stays as it is.
 */
import { render } from 'preact';
import { HomePage } from './home.js';
import { SpacePage } from './space.js';
import './style.css';

const match = /^\/s\/([A-Za-z0-9_-]{1,64})\/?$/.exec(location.pathname);
const root = document.getElementById('app')!;
if (!root.querySelector('[data-error]')) {
  root.replaceChildren();
  render(match ? <SpacePage id={match[1]!} /> : <HomePage />, root);
}
