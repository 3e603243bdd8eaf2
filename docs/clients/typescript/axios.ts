// The app's Axios instance (the guide's src/api/request.ts), next to reportError.ts: requests
// that fail are reported to Log Center.
import axios, { AxiosError } from 'axios';

import { reportError } from './reportError';

const request = axios.create({ baseURL: '/api', timeout: 10_000 });

request.interceptors.response.use(
  (response) => response,
  (error: AxiosError) => {
    const status = error.response?.status;
    // 4xx answers are the API speaking to the user (validation, login): not bugs.
    if (status === undefined || status >= 500) {
      reportError(error, {
        url: error.config?.url,
        method: error.config?.method,
        status,
      });
    }
    // ... the app's own error handling, unchanged ...
    return Promise.reject(error);
  },
);

export default request;
