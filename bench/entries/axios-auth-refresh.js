// esbuild entry: axios with axios-auth-refresh's interceptor (refresh on 401, then retry).
import axios from 'axios';
import createAuthRefreshInterceptor from 'axios-auth-refresh';

export function start(origin) {
  const api = axios.create({ baseURL: origin });
  createAuthRefreshInterceptor(api, async (failed) => {
    const { data } = await api.post('/api/auth/token/refresh/', { refresh: localStorage.getItem('refreshToken') }, { skipAuthRefresh: true });
    localStorage.setItem('accessToken', data.access);
    failed.response.config.headers.Authorization = `Bearer ${data.access}`;
  });
  api.interceptors.request.use((config) => {
    config.headers.Authorization = `Bearer ${localStorage.getItem('accessToken')}`;
    return config;
  });
  return api;
}
