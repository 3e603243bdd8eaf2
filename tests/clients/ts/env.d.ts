// What Vite's client types (vite/client) declare for import.meta.env.
interface ImportMetaEnv {
  readonly [key: string]: any;
  readonly MODE: string;
  readonly BASE_URL: string;
  readonly DEV: boolean;
  readonly PROD: boolean;
  readonly SSR: boolean;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
