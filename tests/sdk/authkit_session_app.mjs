// A minimal web app built on the official `@workos/authkit-session` (with the Node SDK it peers
// with), pointed at Keystead only through the library's documented environment variables:
// WORKOS_API_HOSTNAME, WORKOS_API_HTTPS, WORKOS_API_PORT, WORKOS_CLIENT_ID, WORKOS_API_KEY,
// WORKOS_REDIRECT_URI and WORKOS_COOKIE_PASSWORD.
//
// Run by `tests/api/authkit_session.rs`, which drives it like a browser. Routes:
//   GET /login     createSignIn → 302 to Keystead's hosted login (sets the PKCE verifier cookie)
//   GET /callback  handleCallback(code, state) → 200 {user_id, session_id}, sets the session
//   GET /me        withAuth → 200 {user, session_id, access_token, claims, refreshed}; a refreshed
//                  session is saved back into the cookie
//   GET /logout    withAuth + signOut → 302 to Keystead's logout URL, clears the session cookie
// Environment: AUTHKIT_SESSION_DIR (the locked node_modules) and APP_PORT (where it listens, on
// 127.0.0.1). Errors answer 500 with the library's message.

import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.AUTHKIT_SESSION_DIR;
const lib = await import(
  pathToFileURL(join(modules, '@workos/authkit-session/dist/index.js')).href
);
const { CookieSessionStorage, createAuthService } = lib;

/** Storage over Node's request: reads cookies, returns Set-Cookie headers (headers-only mode). */
class NodeStorage extends CookieSessionStorage {
  async getCookie(request, name) {
    for (const part of (request.headers.cookie ?? '').split(';')) {
      const [k, ...rest] = part.trim().split('=');
      if (k === name) return decodeURIComponent(rest.join('='));
    }
    return null;
  }
}

const auth = createAuthService({ sessionStorageFactory: (config) => new NodeStorage(config) });

/** The Set-Cookie values of a library header bag, whatever its key's case. */
function setCookies(headers) {
  const v = headers?.['Set-Cookie'] ?? headers?.['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function send(res, status, body, headers = {}, cookies = []) {
  if (cookies.length) res.setHeader('Set-Cookie', cookies);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (body === undefined) {
    res.writeHead(status).end();
  } else {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

async function route(req, res) {
  const url = new URL(req.url, 'http://app.local');
  switch (url.pathname) {
    case '/login': {
      const { url: to, headers } = await auth.createSignIn(undefined, { returnPathname: '/me' });
      return send(res, 302, undefined, { location: to }, setCookies(headers));
    }
    case '/callback': {
      const result = await auth.handleCallback(req, undefined, {
        code: url.searchParams.get('code'),
        state: url.searchParams.get('state') ?? undefined,
      });
      return send(
        res,
        200,
        {
          user_id: result.authResponse.user.id,
          return_pathname: result.returnPathname,
          has_refresh_token: typeof result.authResponse.refreshToken === 'string',
        },
        {},
        setCookies(result.headers),
      );
    }
    case '/me': {
      const { auth: session, refreshedSessionData } = await auth.withAuth(req);
      let cookies = [];
      if (refreshedSessionData) {
        cookies = setCookies((await auth.saveSession(undefined, refreshedSessionData)).headers);
      }
      if (!session.user) return send(res, 401, { user: null });
      return send(
        res,
        200,
        {
          user: session.user,
          session_id: session.sessionId,
          access_token: session.accessToken,
          claims: session.claims,
          refreshed: Boolean(refreshedSessionData),
        },
        {},
        cookies,
      );
    }
    case '/logout': {
      const { auth: session } = await auth.withAuth(req);
      if (!session.user) return send(res, 401, { user: null });
      const { logoutUrl, headers } = await auth.signOut(session.sessionId, {
        returnTo: url.searchParams.get('return_to') ?? undefined,
      });
      return send(res, 302, undefined, { location: logoutUrl }, setCookies(headers));
    }
    default:
      return send(res, 404, { error: 'not_found' });
  }
}

const server = createServer((req, res) => {
  route(req, res).catch((e) => {
    console.error(`[app] ${req.url}: ${e?.stack ?? e}`);
    send(res, 500, { error: String(e?.message ?? e) });
  });
});
server.listen(Number(process.env.APP_PORT), '127.0.0.1', () => {
  console.error(`[app] listening on ${server.address().port}`);
});
