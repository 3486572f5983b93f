// The nf_tables generation of the caller's network namespace, read over nfnetlink
// (NFT_MSG_GETGEN). The kernel bumps it on every nf_tables commit — `nft -f`, kube-proxy's
// nftables mode, and iptables-nft's own restores all commit through nf_tables — and never
// on a read, so an unchanged generation means no nf_tables rule, chain, set or map element
// changed. iptables-legacy, ipset and IPVS do not go through nf_tables: the generation
// cannot see them (the run loop's periodic re-verification does).
import { createNetlink, parseAttributes } from 'netlink';

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;

/** The generation id, or undefined when the kernel does not answer (no nf_tables): then always re-read. */
export async function readNftGeneration(): Promise<number | undefined> {
  let socket: ReturnType<typeof createNetlink> | undefined;
  try {
    socket = createNetlink(NETLINK_NETFILTER);
    const failed = new Promise<never>((_resolve, reject) => socket!.once('error', reject));
    failed.catch(() => undefined);
    // nfgenmsg: family AF_UNSPEC, version 0, res_id 0.
    const [msgs] = await Promise.race([failed, socket.request((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, [Buffer.from([0, 0, 0, 0])], { timeout: 5000 })]);
    let id: number | undefined;
    for (const m of msgs) {
      if (m.type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN) || m.data.length < 4) continue;
      parseAttributes(m.data.subarray(4), (a) => {
        if ((a.type & 0x3fff) === NFTA_GEN_ID && a.data.length >= 4) id = a.data.readUInt32BE(0);
      });
    }
    return id;
  } catch {
    return undefined;
  } finally {
    socket?.close();
  }
}
