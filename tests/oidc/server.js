// A real OpenID Connect provider (the oidc-provider package) for lightchat's sign-in tests.
//
// Configured from the environment:
//   PORT            where to listen on 127.0.0.1 (0: any free port)
//   CLIENT_ID       the client's id; `<CLIENT_ID>-post` is a second client, which sends
//                   its secret in the token request's body (client_secret_post)
//   CLIENT_SECRET   their secret (the first client sends it as HTTP Basic auth)
//   REDIRECT_URIS   their redirect URIs, comma-separated
//
// PKCE is required. Sign-in uses oidc-provider's development pages: a login form (any
// password) and a consent form. Only the accounts in USERS exist. Once listening, the
// server prints one line, `ready <issuer>`, so the tests can wait on it.

import http from 'node:http';

import Provider from 'oidc-provider';

const USERS = {
  ada: {
    email: 'ada@example.com',
    email_verified: true,
    name: 'Ada Lovelace',
    picture: 'https://example.com/ada.png',
  },
  bob: {
    email: 'bob@example.com',
    email_verified: true,
    name: 'Bob Refused',
    picture: 'https://example.com/bob.png',
  },
  // Typed ada's address at this provider, which never checked it.
  eve: {
    email: 'ada@example.com',
    email_verified: false,
    name: 'Eve Unverified',
    picture: 'https://example.com/eve.png',
  },
};

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
}

const clientId = required('CLIENT_ID');
const clientSecret = required('CLIENT_SECRET');
const redirectUris = required('REDIRECT_URIS').split(',');

const server = http.createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: ['client_secret_basic', 'client_secret_post'].map((method) => ({
      client_id: method === 'client_secret_basic' ? clientId : `${clientId}-post`,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: method,
    })),
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'picture'],
    },
    cookies: { keys: ['lightchat-tests-only'] },
    async findAccount(_ctx, id) {
      const user = USERS[id];
      if (!user) {
        return undefined;
      }
      return { accountId: id, claims: async () => ({ sub: id, ...user }) };
    },
  });
  server.on('request', provider.callback());
  console.log(`ready ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
