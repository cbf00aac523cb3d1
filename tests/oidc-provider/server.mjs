// A real OpenID Connect provider (panva/node-oidc-provider 9.x) on loopback, for keyport's tests and for
// trying the login by hand. Not for production: the accounts are fixed, any password is accepted, and a
// test switch can make the token endpoint hand out broken ID tokens.
//
//   node server.mjs [--port N] [--redirect-uri URI]... [--post-logout-redirect-uri URI]...
//
// Port 0 (the default) lets the kernel pick one. Once listening, the issuer URL is printed alone on the
// first line of stdout (`http://127.0.0.1:PORT`); everything else goes to stderr.
//
// The client: id `keyport`, secret `keyport-test-secret` (client_secret_basic), authorization code flow
// with PKCE (S256) required, the redirect URIs given (default http://127.0.0.1:8080/api/v1/auth/callback).
// Accounts (log in on the development form with the account id and any password):
//   alice   groups [keyport-users]
//   root    groups [keyport-admins, keyport-users]
//   audrey  groups [keyport-auditors, keyport-users]
//   eve     no group
//   carol   groups [keyport-users], no email (username from preferred_username)
//   anything else: an account with that id, no group, email <id>@example.test
//
// Test switch (on the provider's own port, loopback only):
//   POST /__test/id-token  {"mode": M}   how the token endpoint answers from now on; M is one of
//     normal             the provider's own ID token
//     foreign-audience   re-signed with the real key, `aud` another client's
//     expired            re-signed with the real key, `exp` (and `iat`) an hour in the past
//     wrong-nonce        re-signed with the real key, another `nonce`
//     wrong-issuer       re-signed with the real key, another `iss`
//     bad-signature      signed with a key that is not the provider's, under the real key's `kid`
//     alg-none           unsigned (`alg: none`)
//     hs256              HS256 signed with the real public key's modulus as the shared secret
//     rotated-key        signed with a second key whose `kid` the JWKS only publishes from this call on
//   GET /__test/id-token                 the current mode

import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

function parseArgs(argv) {
  const out = { port: 0, redirectUris: [], postLogoutRedirectUris: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = argv[i + 1];
    switch (arg) {
      case '--port': out.port = Number(value); i += 1; break;
      case '--redirect-uri': out.redirectUris.push(value); i += 1; break;
      case '--post-logout-redirect-uri': out.postLogoutRedirectUris.push(value); i += 1; break;
      default:
        if (/^\d+$/.test(arg)) { out.port = Number(arg); break; }
        process.stderr.write(`unknown argument ${arg}\n`);
        process.exit(2);
    }
  }
  if (out.redirectUris.length === 0) out.redirectUris.push('http://127.0.0.1:8080/api/v1/auth/callback');
  if (out.postLogoutRedirectUris.length === 0) {
    out.postLogoutRedirectUris = out.redirectUris.map((u) => new URL('/', u).href);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));

const ACCOUNTS = {
  alice: { email: 'alice@example.test', name: 'Alice Liddell', groups: ['keyport-users'] },
  root: { email: 'root@example.test', name: 'Root Admin', groups: ['keyport-admins', 'keyport-users'] },
  audrey: { email: 'audrey@example.test', name: 'Audrey Auditor', groups: ['keyport-auditors', 'keyport-users'] },
  eve: { email: 'eve@example.test', name: 'Eve Outsider', groups: [] },
  carol: { email: undefined, name: 'Carol', groups: ['keyport-users'] },
};

function account(id) {
  const known = ACCOUNTS[id] ?? { email: `${id}@example.test`, name: id, groups: [] };
  return {
    accountId: id,
    async claims() {
      const claims = {
        sub: id,
        name: known.name,
        preferred_username: id,
        groups: known.groups,
      };
      if (known.email) {
        claims.email = known.email;
        claims.email_verified = true;
      }
      return claims;
    },
  };
}

// The key is generated as PEM and read back as a new key object before its JWK export: exporting the
// generated KeyObject itself can deadlock Node 20 (a garbage collection during the export destroys the
// key-generation job, which waits for the lock the export holds; seen as a provider that never printed its
// issuer, its main thread in ~KeyGenJob).
function newRsaKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const jwk = crypto.createPrivateKey(privateKey).export({ format: 'jwk' });
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

function publicJwk(jwk) {
  const { kty, n, e, kid, alg, use } = jwk;
  return { kty, n, e, kid, alg, use };
}

const signingKey = newRsaKey('test-key-1');
const rotatedKey = newRsaKey('test-key-2');
const foreignKey = newRsaKey('test-key-1');

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function decodeJwt(token) {
  const [header, payload] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()),
  };
}

function signRs256(header, payload, jwk) {
  const input = `${b64(header)}.${b64(payload)}`;
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const signature = crypto.sign('sha256', Buffer.from(input), key).toString('base64url');
  return `${input}.${signature}`;
}

let mode = 'normal';
let rotated = false;
const MODES = ['normal', 'foreign-audience', 'expired', 'wrong-nonce', 'wrong-issuer', 'bad-signature',
  'alg-none', 'hs256', 'rotated-key'];

function tamper(idToken) {
  const { header, payload } = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'foreign-audience':
      return signRs256(header, { ...payload, aud: 'some-other-client', azp: 'some-other-client' }, signingKey);
    case 'expired':
      return signRs256(header, { ...payload, iat: now - 7200, exp: now - 3600 }, signingKey);
    case 'wrong-nonce':
      return signRs256(header, { ...payload, nonce: 'not-the-nonce-keyport-sent' }, signingKey);
    case 'wrong-issuer':
      return signRs256(header, { ...payload, iss: 'http://127.0.0.1:1/not-the-issuer' }, signingKey);
    case 'bad-signature':
      return signRs256(header, payload, foreignKey);
    case 'alg-none':
      return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    case 'hs256': {
      const h = { alg: 'HS256', typ: 'JWT', kid: header.kid };
      const input = `${b64(h)}.${b64(payload)}`;
      const sig = crypto.createHmac('sha256', Buffer.from(signingKey.n, 'base64url')).update(input).digest('base64url');
      return `${input}.${sig}`;
    }
    case 'rotated-key':
      return signRs256({ ...header, kid: rotatedKey.kid }, payload, rotatedKey);
    default:
      return idToken;
  }
}

function buildProvider(issuer) {
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'keyport',
    client_secret: 'keyport-test-secret',
    redirect_uris: args.redirectUris,
    post_logout_redirect_uris: args.postLogoutRedirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  findAccount: (ctx, id) => account(id),
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
  },
  // Put the scope's claims in the ID token (keyport reads the ID token, not userinfo).
  conformIdTokenClaims: false,
  // First-party client: no consent screen, every requested scope is granted.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'groups', 'email', 'email_verified']);
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  ttl: { IdToken: 600, AccessToken: 600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
});

provider.on('server_error', (ctx, err) => process.stderr.write(`oidc-provider server_error: ${err.stack}\n`));

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/id-token') {
    if (ctx.method === 'POST') {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      let requested;
      try {
        requested = JSON.parse(Buffer.concat(chunks).toString() || '{}').mode;
      } catch {
        requested = undefined;
      }
      if (!MODES.includes(requested)) {
        ctx.status = 400;
        ctx.body = { error: `mode must be one of ${MODES.join(', ')}` };
        return;
      }
      mode = requested;
      if (mode === 'rotated-key') rotated = true;
    }
    ctx.body = { mode };
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: tamper(ctx.body.id_token) };
  }
  if (ctx.path === '/jwks' && rotated && ctx.body && Array.isArray(ctx.body.keys)) {
    ctx.body = { ...ctx.body, keys: [...ctx.body.keys, publicJwk(rotatedKey)] };
  }
});

return provider;
}

// Listen first: the issuer must name the port, which the kernel picks when it is 0.
let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));
server.listen(args.port, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  handler = buildProvider(issuer).callback();
  process.stdout.write(`${issuer}\n`);
  process.stderr.write(`oidc-provider ${issuer} ready (client keyport, redirect ${args.redirectUris.join(' ')})\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
