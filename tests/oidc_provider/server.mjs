// A real OAuth 2.0 authorization server for the introspection tests: panva's
// oidc-provider (tests/oidc_provider/package.json pins it), on 127.0.0.1 only.
//
//   node server.mjs            (configured from the environment, see below)
//
// It issues opaque access tokens by the client credentials grant (client "app"),
// DPoP-bound ones when the request carries a DPoP proof, and answers RFC 7662
// introspection (RFC 9701 signed answers for the client that registered an
// algorithm) and RFC 7009 revocation. One resource server client per
// authentication method: "rs-basic" (client_secret_basic), "rs-post"
// (client_secret_post), "rs-jwt" (private_key_jwt, its public key from the
// environment), "rs-signed" (client_secret_basic, signed answers).
//
// Environment: OP_PORT (the port on 127.0.0.1), OP_SIGNING_JWK (the server's RSA
// private JWK, so the tests know its public key), OP_RS_JWK (rs-jwt's public JWK),
// OP_SECRET (the resource servers' secret), OP_TOKEN_TTL (seconds, default 600).
// Resources: urn:orders-api (audience orders-api) and urn:other-api (other-api)
// give opaque tokens; urn:jwt-api (audience orders-api) gives JWT access tokens.
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const secret = process.env.OP_SECRET;
const ttl = Number(process.env.OP_TOKEN_TTL || 600);
const audiences = {
  'urn:orders-api': 'orders-api',
  'urn:other-api': 'other-api',
  'urn:jwt-api': 'orders-api', // JWT access tokens (RFC 9068), for JWT_INTROSPECTION_MODE=always
};

const rs = (id, extra) => ({
  client_id: id,
  client_secret: secret,
  grant_types: [],
  redirect_uris: [],
  response_types: [],
  ...extra,
});

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'app',
      client_secret: 'app-secret-0123456789',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'read admin',
    },
    rs('rs-basic', { token_endpoint_auth_method: 'client_secret_basic' }),
    rs('rs-post', { token_endpoint_auth_method: 'client_secret_post' }),
    rs('rs-signed', {
      token_endpoint_auth_method: 'client_secret_basic',
      introspection_signed_response_alg: 'RS256',
    }),
    {
      client_id: 'rs-jwt',
      grant_types: [],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [JSON.parse(process.env.OP_RS_JWK)] },
    },
  ],
  jwks: { keys: [JSON.parse(process.env.OP_SIGNING_JWK)] },
  scopes: ['read', 'admin'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    jwtIntrospection: { enabled: true },
    revocation: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:orders-api',
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (!(resource in audiences)) throw new Error(`unknown resource ${resource}`);
        return {
          scope: 'read admin',
          audience: audiences[resource],
          accessTokenTTL: ttl,
          accessTokenFormat: resource === 'urn:jwt-api' ? 'jwt' : 'opaque',
        };
      },
    },
  },
  ttl: { ClientCredentials: ttl },
  cookies: { keys: ['a-cookie-key-for-tests-only-0123456789'] },
});

provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
