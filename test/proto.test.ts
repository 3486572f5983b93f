import test from 'ava';
import { loadContract } from '../common/proto.js';
import { ContextAssembler, contextToChunks, findingFromWire, reportToWire, summaryFromWire } from '../common/wire.js';
import type { AgentMessage__Output } from '../gen/proto/netconform/v1/AgentMessage.js';
import type { CollectorMessage__Output } from '../gen/proto/netconform/v1/CollectorMessage.js';
import type { Finding } from '../common/findings.js';
import { parseClusterObjects } from '../common/cluster.js';

const connect = () => loadContract().AgentService.service.Connect;

test('a report survives encoding to bytes and back, passing findings left out', (t) => {
  const findings: Finding[] = [
    { check: 'pod-network.sysctl', status: 'fail', severity: 'critical', subject: 'net.ipv4.ip_forward', message: 'off', evidence: { observed: '0', expected: '1' } },
    { check: 'pod-network.sysctl', status: 'pass', severity: 'info', subject: 'x', message: 'fine' },
    { check: 'cni.config', status: 'warn', severity: 'low', subject: '10-old.conf', message: 'shadowed' },
  ];
  const wire = reportToWire({
    sequence: 9007199254740991, bootId: 'b-1', scannedAt: '2026-01-01T00:00:00.000Z', proxyMode: 'iptables', cni: 'flannel',
    checks: [{ id: 'pod-network.sysctl', status: 'fail', passed: 1, failed: 1, warned: 0, skipped: 0, errored: 0 }],
    findings,
  });
  const bytes = connect().requestSerialize({ report: wire });
  t.true(Buffer.isBuffer(bytes));
  const back = connect().requestDeserialize(bytes) as AgentMessage__Output;
  t.is(back.kind, 'report');
  t.is(back.report!.sequence, '9007199254740991');
  t.is(back.report!.proxyMode, 'iptables');
  t.deepEqual(back.report!.findings.map(findingFromWire), [findings[0], findings[2]]);
  t.deepEqual(back.report!.checks.map(summaryFromWire), [{ id: 'pod-network.sysctl', status: 'fail', passed: 1, failed: 1, warned: 0, skipped: 0, errored: 0 }]);
});

test('a cluster context travels in bounded chunks and reassembles to the same context', (t) => {
  const objects: unknown[] = [
    { kind: 'Node', metadata: { name: 'n1' }, spec: { podCIDRs: ['10.244.1.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }], allocatable: { pods: '110' } } },
  ];
  for (let i = 0; i < 1200; i++) {
    objects.push({ kind: 'Service', metadata: { namespace: 'ns', name: `s${i}` }, spec: { clusterIP: `10.96.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }], selector: { app: 'x' } } });
    objects.push({
      kind: 'EndpointSlice', metadata: { namespace: 'ns', name: `s${i}-abc`, labels: { 'kubernetes.io/service-name': `s${i}` } },
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: [`10.244.1.${i % 250}`], conditions: { ready: true }, nodeName: 'n1' }],
    });
  }
  const ctx = parseClusterObjects(objects, { serviceCIDRs: ['10.96.0.0/12'], clusterCIDR: '10.244.0.0/16' });
  const chunks = contextToChunks(ctx, 7, 500);
  t.is(chunks.length, 3);
  const collectorMsg = loadContract().AgentService.service.Connect;
  const assembler = new ContextAssembler();
  let done: ReturnType<ContextAssembler['add']>;
  // Out of order on purpose: the assembler waits for the whole version.
  for (const c of [chunks[2]!, chunks[0]!, chunks[1]!]) {
    const bytes = collectorMsg.responseSerialize({ context: c });
    t.true(bytes.length < 4 * 1024 * 1024);
    const back = collectorMsg.responseDeserialize(bytes) as CollectorMessage__Output;
    done = assembler.add(back.context!);
  }
  t.truthy(done);
  t.is(done!.version, 7);
  t.deepEqual(done!.context.nodes, ctx.nodes);
  t.deepEqual(done!.context.services, ctx.services);
  t.deepEqual(done!.context.serviceCIDRs, ['10.96.0.0/12']);
  t.is(done!.context.clusterCIDR, '10.244.0.0/16');
  t.is(done!.context.services[5]!.ports[0]!.endpoints[0]!.port, 8080);
});
