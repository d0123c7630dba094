/** The real Prometheus over an hvkit host on the simulated backend (see prometheus.cases.ts). */
import { registerPrometheusTests } from './prometheus.cases.ts';

registerPrometheusTests('sim');
