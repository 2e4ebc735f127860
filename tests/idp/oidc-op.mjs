// An OpenID Connect provider for Keystead's tests: panva's oidc-provider (npm), listening on
// 127.0.0.1 only. Discovery, JWKS, authorization (code + PKCE), token, user info and
// end-session are oidc-provider's; this file only registers clients and signs the test user in
// without a form (the interaction step completes at once, as a browser would after login).
//
//   POST /configure   {clients: [{client_id, client_secret, redirect_uris, token_endpoint_auth_method}]}
//
// Prints "LISTENING <port>" once ready.
import http from 'node:http';
import Provider from 'oidc-provider';

let provider = null;
let issuer = '';

const account = {
  sub: 'bob-0001',
  email: 'Bob@Example.com',
  email_verified: true,
  given_name: 'Bob',
  family_name: 'Builder',
  name: 'Bob Builder',
  groups: ['Ops', 'Oncall'],
};

function build(clients) {
  provider = new Provider(issuer, {
    clients,
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ ...account, sub: id }) }),
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'groups'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['keystead-test-cookie-key'] },
    pkce: { required: () => true },
  });
  provider.proxy = false;
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/configure') {
      const cfg = JSON.parse(await readBody(req));
      build(cfg.clients);
      res.writeHead(204);
      return res.end();
    }
    if (req.url.startsWith('/interaction/')) {
      return await interaction(req, res);
    }
    return provider.callback()(req, res);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`op error: ${e && e.stack ? e.stack : e}`);
  }
});

server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  build([]);
  console.log(`LISTENING ${server.address().port}`);
});
