/** The GraphQL endpoint of the service that served the page. */
export function graphqlUrl(): string {
  return new URL('/graphql', location.href).toString();
}

/** The graphql-ws endpoint: the same path, over ws: or wss: as the page's scheme asks. */
export function websocketUrl(): string {
  const url = new URL('/graphql', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
