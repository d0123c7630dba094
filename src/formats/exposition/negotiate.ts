/**
 * Content negotiation for a scrape: which of the three formats an Accept header asks for.
 *
 * Each media range may carry parameters and a q-value (RFC 9110). A format matches a range of
 * its type (or `type/*`, `* /*`) whose parameters agree with it (protobuf needs
 * proto=io.prometheus.client.MetricFamily and encoding=delimited; a version must be one we
 * write). The format with the highest q of its most specific matching range wins; a tie goes to
 * the explicit match, then to text 0.0.4. No header, or nothing acceptable: text 0.0.4, as every
 * Prometheus client does.
 */

export type ExpositionFormat = 'text' | 'openmetrics' | 'protobuf';

interface MediaRange {
  type: string;
  subtype: string;
  params: Map<string, string>;
  q: number;
}

/** At most this many ranges are looked at: an Accept header is short; a hostile one is cut. */
const MAX_RANGES = 64;

function unquote(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

export function parseAccept(header: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const part of header.split(',', MAX_RANGES)) {
    const [media, ...rest] = part.split(';');
    const slash = media!.indexOf('/');
    if (slash < 0) continue;
    const type = media!.slice(0, slash).trim().toLowerCase();
    const subtype = media!
      .slice(slash + 1)
      .trim()
      .toLowerCase();
    if (type === '' || subtype === '') continue;
    const params = new Map<string, string>();
    let q = 1;
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const name = p.slice(0, eq).trim().toLowerCase();
      const value = unquote(p.slice(eq + 1).trim());
      if (name === 'q') {
        const n = Number(value);
        q = Number.isFinite(n) && value !== '' ? Math.min(1, Math.max(0, n)) : 0;
      } else params.set(name, value);
    }
    out.push({ type, subtype, params, q });
  }
  return out;
}

interface Candidate {
  format: ExpositionFormat;
  type: string;
  subtype: string;
  /** Parameter values this format accepts (absent parameter: fine). */
  accepts: Record<string, readonly string[]>;
}

const CANDIDATES: Candidate[] = [
  { format: 'text', type: 'text', subtype: 'plain', accepts: { version: ['0.0.4'] } },
  { format: 'openmetrics', type: 'application', subtype: 'openmetrics-text', accepts: { version: ['1.0.0', '0.0.1'] } },
  {
    format: 'protobuf',
    type: 'application',
    subtype: 'vnd.google.protobuf',
    accepts: { proto: ['io.prometheus.client.MetricFamily'], encoding: ['delimited'] },
  },
];

/** 2: exact type, 1: type/*, 0: * /*, -1: no match. */
function specificity(c: Candidate, r: MediaRange): number {
  if (r.type === '*' && r.subtype === '*') return 0;
  if (r.type !== c.type) return -1;
  if (r.subtype === '*') return 1;
  if (r.subtype !== c.subtype) return -1;
  for (const [name, allowed] of Object.entries(c.accepts)) {
    const v = r.params.get(name);
    if (v !== undefined && !allowed.includes(v)) return -1;
  }
  // protobuf without its proto/encoding is some other protobuf.
  if (c.format === 'protobuf' && (!r.params.has('proto') || !r.params.has('encoding'))) return -1;
  return 2;
}

export function negotiate(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || accept.trim() === '') return 'text';
  const ranges = parseAccept(accept);
  let best: { format: ExpositionFormat; q: number; spec: number } | undefined;
  for (const c of CANDIDATES) {
    let q = -1;
    let spec = -1;
    for (const r of ranges) {
      const s = specificity(c, r);
      if (s > spec) {
        spec = s;
        q = r.q;
      }
    }
    if (spec < 0 || q <= 0) continue;
    if (!best || q > best.q || (q === best.q && spec > best.spec)) best = { format: c.format, q, spec };
  }
  return best?.format ?? 'text';
}
