// Report errors of a browser app (React, Vue, ...) to Log Center.
//
// Settings, from Vite's .env files (.env, .env.production, ...):
//   VITE_LOG_CENTER_URL         Log Center's API (default http://localhost:8002)
//   VITE_LOG_CENTER_PROJECT_ID  this app's id in Log Center (default rtc_web)
//   VITE_REPO_URL               the app's git repository, for the repair agent (optional)
//   VITE_LOG_CENTER_KEY         the project's ingest key, if one is set in Log Center (optional)
// The environment reported is Vite's mode: development under `vite`, production after a build.

const LOG_CENTER_URL: string = import.meta.env.VITE_LOG_CENTER_URL || 'http://localhost:8002';
const PROJECT_ID: string = import.meta.env.VITE_LOG_CENTER_PROJECT_ID || 'rtc_web';
const REPO_URL: string = import.meta.env.VITE_REPO_URL || '';
const INGEST_KEY: string = import.meta.env.VITE_LOG_CENTER_KEY || '';

interface ErrorPayload {
  project_id: string;
  environment: string;
  level: string;
  repo_url?: string;
  error: {
    type: string;
    message: string;
    file_path: string;
    line_number: number;
    stack_trace: string[];
  };
  context?: Record<string, unknown>;
}

// A stack frame's "file:line:column": Chrome's "at f (url:1:2)" or "at url:1:2", Firefox and
// Safari's "f@url:1:2".
const FRAME = /(?:\(|@|\s)([^\s()@]+):(\d+):\d+\)?\s*$/;

export function reportError(error: Error, context: Record<string, unknown> = {}): void {
  try {
    const stackLines = error.stack?.split('\n') ?? [];
    const where = stackLines.map((line) => FRAME.exec(line)).find((match) => match !== null);
    const payload: ErrorPayload = {
      project_id: PROJECT_ID,
      environment: import.meta.env.MODE,
      level: 'ERROR',
      error: {
        type: error.name,
        message: error.message,
        file_path: where?.[1] ?? 'unknown',
        line_number: Number(where?.[2] ?? 0),
        stack_trace: stackLines,
      },
      context: { url: window.location.href, userAgent: navigator.userAgent, ...context },
    };
    if (REPO_URL) payload.repo_url = REPO_URL;
    send(JSON.stringify(payload));
  } catch {
    // reporting must never break the app
  }
}

function send(body: string): void {
  // sendBeacon cannot set headers, so an ingest key goes in the query string.
  const key = INGEST_KEY ? `?key=${encodeURIComponent(INGEST_KEY)}` : '';
  const url = `${LOG_CENTER_URL}/api/v1/logs/report${key}`;
  // sendBeacon survives the page being closed; fetch is the fallback where it is missing or
  // refuses (its queue is full).
  if (navigator.sendBeacon?.(url, body)) return;
  fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body,
    keepalive: true,
  }).catch(() => {});
}

// Errors nothing else caught: uncaught exceptions and rejected promises nobody awaited.
export function installGlobalHandlers(): void {
  window.addEventListener('error', (event: ErrorEvent) => {
    reportError(event.error instanceof Error ? event.error : new Error(event.message));
  });
  window.addEventListener('unhandledrejection', (event: PromiseRejectionEvent) => {
    const reason: unknown = event.reason;
    reportError(reason instanceof Error ? reason : new Error(String(reason)));
  });
}
