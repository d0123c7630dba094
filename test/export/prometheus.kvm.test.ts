/**
 * The real Prometheus over an hvkit host on real KVM (see prometheus.cases.ts): besides the VMM
 * counters, the kernel's stats fds of every VM and vCPU — counters checked against our reader,
 * the kernel's log2 histograms stored as native histograms.
 */
import { registerPrometheusTests } from './prometheus.cases.ts';

registerPrometheusTests('kvm');
