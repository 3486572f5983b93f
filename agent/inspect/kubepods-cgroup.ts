// Which pod and container a process belongs to, read from its cgroup path. The kubelet puts
// every container under its pod's cgroup, named by the pod UID, below a `kubepods` root;
// the shape depends on the cgroup driver:
//   cgroupfs: …/kubepods[/burstable|/besteffort]/pod<uid>/<container-id>
//   systemd:  …/kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid_with_underscores>.slice/<runtime>-<id>.scope
// (runtime prefixes: cri-containerd, crio, docker). Anything before the kubepods root is
// ignored (kind's `kubelet.slice/kubelet-kubepods.slice`, a test's private parent). cgroup v1
// lists one line per hierarchy, v2 one `0::` line; the first line that names a container wins.
// CRI-O's `crio-conmon-<id>.scope` is its monitor process, outside the container: not matched.

export type CgroupDriver = 'cgroupfs' | 'systemd';

export interface KubepodsCgroup {
  /** Pod UID with dashes (systemd's underscores turned back), lower case. */
  readonly podUID: string;
  /** The runtime's 64-hex container id (the pod sandbox's own id included). */
  readonly containerID: string;
  readonly driver: CgroupDriver;
  /** `cri-containerd`, `crio`, `docker`, or '' (cgroupfs names carry no runtime). */
  readonly runtime: string;
}

// 32 hex digits with optional dashes: API-assigned UUIDs and static pods' hash UIDs alike.
const UID = '[0-9a-f]{8}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{4}[-_]?[0-9a-f]{12}';
const CGROUPFS_POD = new RegExp(`^pod(${UID})$`);
const SYSTEMD_POD = new RegExp(`^(?:[a-z0-9_.]+-)?kubepods(?:-(?:burstable|besteffort))?-pod(${UID})\\.slice$`);
const CONTAINER = /^(?:(cri-containerd|crio|docker|cri-o|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;
const QOS = new Set(['burstable', 'besteffort']);

/** Parses one cgroup path; undefined when it is not a kubelet container cgroup. */
export function parseKubepodsPath(path: string): KubepodsCgroup | undefined {
  const segs = path.split('/').filter((s) => s !== '');
  for (let i = 0; i < segs.length - 1; i++) {
    const seg = segs[i]!;
    let uid: string | undefined;
    let driver: CgroupDriver | undefined;
    const sd = SYSTEMD_POD.exec(seg);
    if (sd) {
      uid = sd[1];
      driver = 'systemd';
    } else {
      const fs = CGROUPFS_POD.exec(seg);
      // cgroupfs: the pod segment sits right below `kubepods` or its QoS class directory.
      const parent = segs[i - 1];
      const grand = segs[i - 2];
      if (fs && (parent === 'kubepods' || (parent !== undefined && QOS.has(parent) && grand === 'kubepods'))) {
        uid = fs[1];
        driver = 'cgroupfs';
      }
    }
    if (uid === undefined || driver === undefined) continue;
    const c = CONTAINER.exec(segs[i + 1]!);
    if (!c) return undefined;
    return { podUID: normalizeUID(uid), containerID: c[2]!, driver, runtime: c[1] ?? '' };
  }
  return undefined;
}

/** Reads a /proc/<pid>/cgroup file's text (v1 or v2); the first kubepods line wins. */
export function parseProcCgroup(text: string): KubepodsCgroup | undefined {
  for (const line of text.split('\n')) {
    // hierarchy-id:controllers:path — the path may itself contain ':'.
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const found = parseKubepodsPath(line.slice(second + 1));
    if (found) return found;
  }
  return undefined;
}

/** systemd's `2c1f…_…` → the API's spelling (dashes, lower case); a static pod's hash UID has none. */
export function normalizeUID(uid: string): string {
  return uid.toLowerCase().replace(/_/g, '-');
}
