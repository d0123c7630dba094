/**
 * A tiny protobuf reader for the tests: decodes the delimited MetricFamily stream the exporter
 * writes back into plain objects, independently of the writer (byte by byte, bigint varints).
 */

export interface Decoded {
  name: string;
  help: string;
  type: number;
  metrics: DecodedMetric[];
}

export interface DecodedMetric {
  labels: [string, string][];
  counter?: number;
  gauge?: number;
  histogram?: {
    count: bigint;
    sum?: number;
    buckets: { cumulative: bigint; upper: number }[];
    schema?: number;
    zeroThreshold?: number;
    zeroCount: bigint;
    spans: [number, number][];
    deltas: bigint[];
  };
}

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly end = bytes.length,
  ) {}
  varint(): bigint {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new RangeError('truncated varint');
      const b = this.bytes[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
      if (shift > 63n) throw new RangeError('varint too long');
    }
  }
  zigzag(): bigint {
    const v = this.varint();
    return v & 1n ? -(v >> 1n) - 1n : v >> 1n;
  }
  double(): number {
    const dv = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 8);
    this.pos += 8;
    return dv.getFloat64(0, true);
  }
  sub(): Reader {
    const len = Number(this.varint());
    const r = new Reader(this.bytes, this.pos + len);
    r.pos = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new RangeError('truncated message');
    return r;
  }
  string(): string {
    const r = this.sub();
    return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(r.pos, r.end));
  }
  fields(each: (field: number, wire: number) => void): void {
    while (this.pos < this.end) {
      const tag = Number(this.varint());
      each(tag >> 3, tag & 7);
    }
  }
}

function histogram(r: Reader): NonNullable<DecodedMetric['histogram']> {
  const h: NonNullable<DecodedMetric['histogram']> = { count: 0n, buckets: [], zeroCount: 0n, spans: [], deltas: [] };
  r.fields((f, wire) => {
    if (f === 1) h.count = r.varint();
    else if (f === 2) h.sum = r.double();
    else if (f === 3) {
      const b = r.sub();
      const bucket = { cumulative: 0n, upper: 0 };
      b.fields((g) => {
        if (g === 1) bucket.cumulative = b.varint();
        else if (g === 2) bucket.upper = b.double();
        else throw new RangeError(`bucket field ${g}`);
      });
      h.buckets.push(bucket);
    } else if (f === 5) h.schema = Number(r.zigzag());
    else if (f === 6) h.zeroThreshold = r.double();
    else if (f === 7) h.zeroCount = r.varint();
    else if (f === 12) {
      const s = r.sub();
      const span: [number, number] = [0, 0];
      s.fields((g) => {
        if (g === 1) span[0] = Number(s.zigzag());
        else if (g === 2) span[1] = Number(s.varint());
        else throw new RangeError(`span field ${g}`);
      });
      h.spans.push(span);
    } else if (f === 13) {
      if (wire === 2) {
        const p = r.sub();
        while (p.pos < p.end) h.deltas.push(p.zigzag());
      } else h.deltas.push(r.zigzag());
    } else throw new RangeError(`histogram field ${f}`);
  });
  return h;
}

function scalarValue(r: Reader): number {
  const s = r.sub();
  let v = 0;
  s.fields((f) => {
    if (f === 1) v = s.double();
    else throw new RangeError(`value field ${f}`);
  });
  return v;
}

function metric(r: Reader): DecodedMetric {
  const m: DecodedMetric = { labels: [] };
  r.fields((f) => {
    if (f === 1) {
      const l = r.sub();
      const pair: [string, string] = ['', ''];
      l.fields((g) => {
        if (g === 1) pair[0] = l.string();
        else if (g === 2) pair[1] = l.string();
        else throw new RangeError(`label field ${g}`);
      });
      m.labels.push(pair);
    } else if (f === 2) m.gauge = scalarValue(r);
    else if (f === 3) m.counter = scalarValue(r);
    else if (f === 7) m.histogram = histogram(r.sub());
    else throw new RangeError(`metric field ${f}`);
  });
  return m;
}

export function decodeDelimited(bytes: Uint8Array): Decoded[] {
  const out: Decoded[] = [];
  const r = new Reader(bytes);
  while (r.pos < r.end) {
    const fam = r.sub();
    const d: Decoded = { name: '', help: '', type: 0, metrics: [] };
    fam.fields((f) => {
      if (f === 1) d.name = fam.string();
      else if (f === 2) d.help = fam.string();
      else if (f === 3) d.type = Number(fam.varint());
      else if (f === 4) d.metrics.push(metric(fam.sub()));
      else throw new RangeError(`family field ${f}`);
    });
    out.push(d);
  }
  return out;
}
