import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

import { classifyAddress } from './address-policy.ts';
import { abortReason, raceAbort } from './deadline.ts';
import { FetchError, blockedAddressError, describeUrl, networkError } from './fetch-error.ts';
import type { Lookup, LookupAddress } from './safe-fetch.ts';

/** What a hop may connect to, decided once per hop. */
export interface TargetPolicy {
  allowPrivateNetwork: boolean;
  allowedPorts?: readonly number[] | null;
  lookup?: Lookup;
  isAllowedAddress?: (ip: string) => boolean;
}

/** A URL that passed every check, with the one address the connection is pinned to. */
export interface VettedTarget {
  url: URL;
  /** The hostname without IPv6 brackets. */
  hostname: string;
  port: number;
  address: LookupAddress;
}

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/** Parses a URL (relative to `base` when given), refusing text that is not a URL. */
export function parseUrl(text: string, base?: URL): URL {
  if (!URL.canParse(text, base?.href)) {
    const what = base === undefined ? 'The URL' : 'The server redirected to a URL that';
    throw new FetchError('INVALID_URL', `${what} is not a valid web address`);
  }

  return new URL(text, base);
}

/**
 * Checks scheme, port and every address the host resolves to, in that order, before anything
 * is sent. Rejects with `BLOCKED_SCHEME`, `BLOCKED_PORT`, `BLOCKED_ADDRESS`, `NETWORK` (the name
 * does not resolve) or the deadline's reason.
 */
export async function vetTarget(
  url: URL,
  policy: TargetPolicy,
  signal: AbortSignal,
): Promise<VettedTarget> {
  const port = checkSchemeAndPort(url, policy.allowedPorts);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');

  const addresses = await resolveHost(hostname, url, policy.lookup ?? systemLookup, signal);
  if (!policy.allowPrivateNetwork) {
    checkAddresses(hostname, addresses, policy.isAllowedAddress);
  }

  const [address] = addresses;
  if (address === undefined) {
    throw new FetchError('NETWORK', `The host ${hostname} could not be found`);
  }

  return { url, hostname, port, address };
}

function checkSchemeAndPort(url: URL, allowedPorts?: readonly number[] | null): number {
  const defaultPort = DEFAULT_PORTS[url.protocol];
  if (defaultPort === undefined) {
    throw new FetchError(
      'BLOCKED_SCHEME',
      `Only http and https addresses can be fetched, not ${url.protocol.replace(/:$/, '')}`,
    );
  }

  const port = url.port === '' ? defaultPort : Number(url.port);
  if (allowedPorts != null && !allowedPorts.includes(port)) {
    throw new FetchError(
      'BLOCKED_PORT',
      `Port ${port} is not allowed (${describeUrl(url)}); use port ${allowedPorts.join(' or ')}`,
    );
  }

  return port;
}

async function resolveHost(
  hostname: string,
  url: URL,
  lookup: Lookup,
  signal: AbortSignal,
): Promise<LookupAddress[]> {
  const family = isIP(hostname);
  if (family === 4 || family === 6) {
    return [{ address: hostname, family }];
  }

  // RFC 6761: localhost names are loopback by definition and never go to DNS.
  if (/(^|\.)localhost\.?$/.test(hostname)) {
    return [{ address: '127.0.0.1', family: 4 }];
  }

  if (signal.aborted) {
    throw abortReason(signal);
  }

  try {
    return await raceAbort(lookup(hostname), signal);
  } catch (error: unknown) {
    throw error instanceof FetchError ? error : networkError(error, url);
  }
}

function checkAddresses(
  hostname: string,
  addresses: readonly LookupAddress[],
  isAllowedAddress?: (ip: string) => boolean,
): void {
  // One forbidden answer refuses the host: we must not let the resolver choose for us.
  for (const { address } of addresses) {
    const refusal = classifyAddress(address);
    const allowed = isAllowedAddress === undefined ? refusal === null : isAllowedAddress(address);
    if (!allowed) {
      throw blockedAddressError(hostname, address, refusal);
    }
  }
}

async function systemLookup(hostname: string): Promise<LookupAddress[]> {
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map(({ address }) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
}
