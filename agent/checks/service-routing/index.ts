// The service-routing checks, in the order they are reported.
import type { CheckDefinition } from '../types.js';
import { proxyModeCheck } from './mode.js';
import { clusterIPCheck } from './clusterip.js';
import { nodePortCheck } from './nodeport.js';
import { staleRulesCheck } from './stale-rules.js';
import { kubeProxyCheck } from './kube-proxy.js';

export const SERVICE_ROUTING_CHECKS: readonly CheckDefinition[] = [proxyModeCheck, clusterIPCheck, nodePortCheck, staleRulesCheck, kubeProxyCheck];
