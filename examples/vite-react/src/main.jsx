import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { AuthProvider } from 'authkeeper/react';
import { getAuthClient } from './auth.js';
import { App } from './App.jsx';

function Root() {
  const [client, setClient] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    getAuthClient().then(setClient, setError);
  }, []);
  if (error) return <p data-testid="boot-error">{error.code}: {error.message}</p>;
  return (
    <AuthProvider client={client}>
      <App />
    </AuthProvider>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
