#!/usr/bin/env python3
# Test helper: creates a pinned BPF hash map that carries BTF for its key and value structs,
# the way libbpf creates Cilium's maps, so `bpftool -j map dump` prints `formatted` members.
# bpftool cannot attach BTF to a map it creates, hence the raw bpf(2) calls: BPF_BTF_LOAD
# with a BTF blob built here, BPF_MAP_CREATE naming the key/value type ids, BPF_OBJ_PIN.
# Usage: btf-map.py SPEC_JSON, where SPEC is
#   {"path": "/bpffs/tc/globals/x", "name": "x", "entries": 16,
#    "key":   {"name": "lb4_key", "size": 12, "members": [["address", "u32", 0], …]},
#    "value": {"name": "lb4_service", "size": 12, "members": [["", {"union": [["backend_id", "u32", 0]], "size": 4}, 0], …]}}
# member types: "u8", "u16", "u32", "u8[N]", or {"union": [members], "size": bytes}; offsets in bits.
import ctypes
import json
import os
import platform
import struct
import sys

SYS_BPF = {'x86_64': 321, 'aarch64': 280}[platform.machine()]
BPF_MAP_CREATE, BPF_OBJ_PIN, BPF_BTF_LOAD = 0, 6, 18
BPF_MAP_TYPE_HASH = 1
KIND_INT, KIND_ARRAY, KIND_STRUCT, KIND_UNION = 1, 3, 4, 5

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(SYS_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, f'bpf cmd {cmd}: {os.strerror(e)}')
    return r


class Btf:
    def __init__(self):
        self.strings = b'\0'
        self.types = []  # encoded bytes per type, id = index + 1
        self.ints = {}

    def s(self, name):
        if not name:
            return 0
        off = len(self.strings)
        self.strings += name.encode() + b'\0'
        return off

    def add(self, data):
        self.types.append(data)
        return len(self.types)

    def int(self, name, size):
        if name not in self.ints:
            self.ints[name] = self.add(struct.pack('<III', self.s(name), KIND_INT << 24, size) + struct.pack('<I', size * 8))
        return self.ints[name]

    def type_of(self, t):
        if isinstance(t, dict):
            return self.composite(KIND_UNION, '', t['size'], t['union'])
        if t.endswith(']'):
            base, n = t[:-1].split('[')
            elem = self.type_of(base)
            return self.add(struct.pack('<III', 0, KIND_ARRAY << 24, 0) + struct.pack('<III', elem, self.int('__u32', 4), int(n)))
        return self.int({'u8': '__u8', 'u16': '__u16', 'u32': '__u32'}[t], {'u8': 1, 'u16': 2, 'u32': 4}[t])

    def composite(self, kind, name, size, members):
        ids = [(m[0], self.type_of(m[1]), m[2]) for m in members]
        body = b''.join(struct.pack('<III', self.s(n), tid, off) for n, tid, off in ids)
        return self.add(struct.pack('<III', self.s(name), (kind << 24) | len(ids), size) + body)

    def blob(self):
        types = b''.join(self.types)
        hdr = struct.pack('<HBBIIIII', 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(self.strings))
        return hdr + types + self.strings


def main():
    spec = json.loads(sys.argv[1])
    b = Btf()
    key_id = b.composite(KIND_STRUCT, spec['key']['name'], spec['key']['size'], spec['key']['members'])
    value_id = b.composite(KIND_STRUCT, spec['value']['name'], spec['value']['size'], spec['value']['members'])
    raw = b.blob()
    blob = ctypes.create_string_buffer(raw, len(raw))
    log = ctypes.create_string_buffer(65536)
    try:
        btf_fd = bpf(BPF_BTF_LOAD, struct.pack('<QQIII', ctypes.addressof(blob), ctypes.addressof(log), len(raw), len(log), 1))
    except OSError:
        sys.stderr.write(log.value.decode(errors='replace'))
        raise
    name = spec['name'].encode()[:15].ljust(16, b'\0')
    attr = struct.pack('<IIIIIII', BPF_MAP_TYPE_HASH, spec['key']['size'], spec['value']['size'], spec.get('entries', 64), 1, 0, 0) + name
    attr += struct.pack('<IIII', 0, btf_fd, key_id, value_id)
    map_fd = bpf(BPF_MAP_CREATE, attr)
    path = ctypes.create_string_buffer(spec['path'].encode())  # NUL-terminated
    bpf(BPF_OBJ_PIN, struct.pack('<QII', ctypes.addressof(path), map_fd, 0))
    os.close(map_fd)
    os.close(btf_fd)


main()
