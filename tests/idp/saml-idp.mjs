// A SAML 2.0 identity provider for Keystead's tests, built on samlify (npm), listening on
// 127.0.0.1 only. The protocol work — parsing and verifying the signed AuthnRequest (HTTP-
// Redirect), building, signing and encrypting the Response (HTTP-POST) — is samlify's.
//
//   GET  /metadata        IdP metadata (signing certificate, HTTP-Redirect SSO endpoint)
//   POST /configure       {sp_metadata, encrypt, data_encryption_algorithm, user} (test control)
//   GET  /sso             SP-initiated login: answers the auto-post form a browser would submit
//   GET  /initiate        IdP-initiated login (no InResponseTo)
//
// Env: IDP_KEY, IDP_CERT (PEM file paths). Prints "LISTENING <port>" once ready.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import samlify from 'samlify';

samlify.setSchemaValidator({ validate: () => Promise.resolve('skipped') });

const key = fs.readFileSync(process.env.IDP_KEY, 'utf8');
const cert = fs.readFileSync(process.env.IDP_CERT, 'utf8');
let base = '';
let sp = null;
let idp = null;
let user = { email: 'alice@example.com', firstName: 'Alice', lastName: 'Liddell', groups: 'Engineering' };

const attributes = ['email', 'firstName', 'lastName', 'groups'].map((name) => ({
  name,
  valueTag: name,
  nameFormat: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  valueXsiType: 'xs:string',
}));

function makeIdp(options = {}) {
  idp = samlify.IdentityProvider({
    entityID: `${base}/metadata`,
    signingCert: cert,
    privateKey: key,
    wantAuthnRequestsSigned: true,
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    singleSignOnService: [
      { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/sso` },
    ],
    singleLogoutService: [
      { Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: `${base}/slo` },
    ],
    isAssertionEncrypted: !!options.encrypt,
    dataEncryptionAlgorithm: options.data_encryption_algorithm || 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
    keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
    loginResponseTemplate: { context: samlify.SamlLib.defaultLoginResponseTemplate.context, attributes },
  });
}

function fill(requestId) {
  return (template) => {
    const id = '_' + crypto.randomUUID();
    const now = new Date();
    const later = new Date(now.getTime() + 5 * 60 * 1000).toISOString();
    const acs = sp.entityMeta.getAssertionConsumerService('post');
    const value = {
      ID: id,
      AssertionID: '_' + crypto.randomUUID(),
      Destination: acs,
      Audience: sp.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later,
      SubjectConfirmationDataNotOnOrAfter: later,
      NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      NameID: user.email,
      InResponseTo: requestId || '',
      AuthnStatement: `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
      attrEmail: user.email,
      attrFirstName: user.firstName,
      attrLastName: user.lastName,
      attrGroups: user.groups,
    };
    let context = samlify.SamlLib.replaceTagsByValue(template, value);
    // The AuthnStatement is markup, not text: put it back unescaped.
    context = context.replace(samlify.SamlLib.replaceTagsByValue('{x}', { x: value.AuthnStatement }), value.AuthnStatement);
    if (!requestId) {
      context = context.replace(/ InResponseTo=""/g, '');
    }
    return { id, context };
  };
}

function autoPost(res, action, samlResponse, relayState) {
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const relay = relayState ? `<input type="hidden" name="RelayState" value="${esc(relayState)}"/>` : '';
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(`<html><body onload="document.forms[0].submit()"><form method="post" action="${esc(action)}"><input type="hidden" name="SAMLResponse" value="${esc(samlResponse)}"/>${relay}</form></body></html>`);
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, base);
    if (req.method === 'GET' && url.pathname === '/metadata') {
      res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
      return res.end(idp.getMetadata());
    }
    if (req.method === 'POST' && url.pathname === '/configure') {
      const cfg = JSON.parse(await readBody(req));
      sp = samlify.ServiceProvider({ metadata: cfg.sp_metadata });
      if (cfg.user) user = { ...user, ...cfg.user };
      makeIdp(cfg);
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'GET' && url.pathname === '/sso') {
      const raw = req.url.split('?')[1] || '';
      const octetString = raw.split('&').filter((p) => !p.startsWith('Signature=')).join('&');
      const query = Object.fromEntries(url.searchParams.entries());
      const parsed = await idp.parseLoginRequest(sp, 'redirect', { query, octetString });
      const requestId = parsed.extract.request.id;
      const { context } = await idp.createLoginResponse(sp, parsed, 'post', user, fill(requestId));
      return autoPost(res, sp.entityMeta.getAssertionConsumerService('post'), context, query.RelayState);
    }
    if (req.method === 'GET' && url.pathname === '/initiate') {
      const { context } = await idp.createLoginResponse(sp, null, 'post', user, fill(null));
      return autoPost(res, sp.entityMeta.getAssertionConsumerService('post'), context, url.searchParams.get('RelayState'));
    }
    res.writeHead(404);
    res.end('not found');
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`idp error: ${e && e.stack ? e.stack : e}`);
  }
});

server.listen(0, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  makeIdp();
  console.log(`LISTENING ${server.address().port}`);
});
