// A server component: rendered at build time (the static export), where the session is
// 'loading'; the client component below takes over in the browser.
import { Session } from './session.jsx';

export default function Page() {
  return <Session />;
}
