import './dashboard.css';

import { render } from 'preact';

import { App } from './App.tsx';

const root = document.getElementById('app');
if (root) {
  // The "Loading…" line is there for a slow first load only.
  root.replaceChildren();
  render(<App />, root);
}
