import test from 'ava';
import { loadContract } from '../common/proto.js';
import { findingFromWire, reportToWire, summaryFromWire } from '../common/wire.js';
import type { AgentMessage__Output } from '../gen/proto/netconform/v1/AgentMessage.js';
import type { CollectorMessage__Output } from '../gen/proto/netconform/v1/CollectorMessage.js';
import type { Finding } from '../common/findings.js';

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

test('no cluster context on the wire: an old agent\'s ContextAck and an old collector\'s context push decode as nothing', (t) => {
  // Field 3 of AgentMessage (ContextAck{version: 7}) and field 2 of CollectorMessage
  // (a ClusterContextChunk{version: 7}) are reserved now: they arrive as unknown fields,
  // which protobuf skips, so mixed versions during a rollout neither fail nor act on them.
  const oldContextAck = Buffer.from([0x1a, 0x02, 0x08, 0x07]);
  const agentMsg = connect().requestDeserialize(oldContextAck) as AgentMessage__Output;
  t.is(agentMsg.kind, undefined);
  t.deepEqual(Object.keys(agentMsg).filter((k) => (agentMsg as unknown as Record<string, unknown>)[k] !== undefined && k !== 'kind'), []);
  const oldChunk = Buffer.from([0x12, 0x02, 0x08, 0x07]);
  const collectorMsg = connect().responseDeserialize(oldChunk) as CollectorMessage__Output;
  t.is(collectorMsg.kind, undefined);
  // What the collector still sends decodes as before.
  const ack = connect().responseDeserialize(connect().responseSerialize({ ack: { sequence: '5' } })) as CollectorMessage__Output;
  t.is(ack.kind, 'ack');
  t.is(ack.ack!.sequence, '5');
});
