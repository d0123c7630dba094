/**
 * Decodes OTLP metrics with the official definitions: @opentelemetry/otlp-transformer ships
 * protobufjs code compiled from the opentelemetry-proto .proto files (build/src/generated/root.js).
 * 64-bit integers come back as decimal strings, so u64 values stay exact.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const entry = require.resolve('@opentelemetry/otlp-transformer');
// biome-ignore lint/suspicious/noExplicitAny: protobufjs' generated static code is untyped here
const root = require(join(dirname(entry), 'generated', 'root.js')) as any;

export const ExportMetricsServiceRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

export interface AnyValue {
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
}
export interface KeyValue {
  key: string;
  value: AnyValue;
}
export interface NumberDataPoint {
  attributes?: KeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano: string;
  asInt?: string;
  asDouble?: number;
}
export interface ExponentialHistogramDataPoint {
  attributes?: KeyValue[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  count: string;
  sum?: number;
  scale?: number;
  zeroCount?: string;
  zeroThreshold?: number;
  positive?: { offset?: number; bucketCounts?: string[] };
  negative?: unknown;
}
export interface HistogramDataPoint {
  attributes?: KeyValue[];
  startTimeUnixNano: string;
  timeUnixNano: string;
  count: string;
  sum?: number;
  bucketCounts?: string[];
  explicitBounds?: number[];
}
export interface Metric {
  name: string;
  description?: string;
  unit?: string;
  sum?: { dataPoints: NumberDataPoint[]; aggregationTemporality: number; isMonotonic: boolean };
  gauge?: { dataPoints: NumberDataPoint[] };
  exponentialHistogram?: { dataPoints: ExponentialHistogramDataPoint[]; aggregationTemporality: number };
  histogram?: { dataPoints: HistogramDataPoint[]; aggregationTemporality: number };
}
export interface ResourceMetrics {
  resource: { attributes: KeyValue[] };
  scopeMetrics: { scope: { name: string; version: string }; metrics: Metric[] }[];
}
export interface MetricsRequest {
  resourceMetrics: ResourceMetrics[];
}

export const CUMULATIVE = 2;

/** The request as a plain object: absent fields stay absent (proto3 `optional double sum` included). */
export function decodeMetricsRequest(bytes: Uint8Array): MetricsRequest {
  const message = ExportMetricsServiceRequest.decode(bytes);
  const out = ExportMetricsServiceRequest.toObject(message, { longs: String, enums: Number, defaults: false });
  out.resourceMetrics ??= [];
  return out as MetricsRequest;
}

/** Attributes as a plain record: strings as strings, ints as bigints. */
export function attributeRecord(
  attributes: readonly KeyValue[] | undefined,
): Record<string, string | bigint | boolean> {
  const out: Record<string, string | bigint | boolean> = {};
  for (const { key, value } of attributes ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = BigInt(value.intValue);
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
  }
  return out;
}
