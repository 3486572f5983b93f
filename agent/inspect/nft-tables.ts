// The names of the caller's nf_tables tables, read over nfnetlink (NFT_MSG_GETTABLE dump).
// nft 1.0.x loads every rule, set and element of every table before it prints
// `nft list tables` (seconds on a node with kube-proxy's nftables maps); the kernel's table
// dump carries only the tables.
import { createNetlink, parseAttributes } from 'netlink';

const NETLINK_NETFILTER = 12;
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETTABLE = 1;
const NFT_MSG_NEWTABLE = 0;
const NLM_F_DUMP = 0x300;
const NFTA_TABLE_NAME = 1;
const FAMILIES: Readonly<Record<number, string>> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };

/** Every table as nft names its family; undefined when the kernel does not answer (then ask nft). */
export async function listNftTablesNetlink(): Promise<{ family: string; name: string }[] | undefined> {
  let socket: ReturnType<typeof createNetlink> | undefined;
  try {
    socket = createNetlink(NETLINK_NETFILTER);
    const failed = new Promise<never>((_resolve, reject) => socket!.once('error', reject));
    failed.catch(() => undefined);
    // nfgenmsg: family AF_UNSPEC (all), version 0, res_id 0.
    const [msgs] = await Promise.race([failed, socket.request((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE, [Buffer.from([0, 0, 0, 0])], { flags: NLM_F_DUMP, timeout: 5000 })]);
    const out: { family: string; name: string }[] = [];
    for (const m of msgs) {
      if (m.type !== ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE) || m.data.length < 4) continue;
      const family = FAMILIES[m.data[0]!];
      let name: string | undefined;
      parseAttributes(m.data.subarray(4), (a) => {
        if ((a.type & 0x3fff) === NFTA_TABLE_NAME) name = a.data.toString('utf8').replace(/\0+$/, '');
      });
      if (family === undefined || name === undefined) return undefined; // a family nft would name differently: let nft answer
      out.push({ family, name });
    }
    return out;
  } catch {
    return undefined;
  } finally {
    socket?.close();
  }
}
