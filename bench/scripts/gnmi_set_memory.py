#!/usr/bin/env python3
"""Peak memory of ocbgpd for one large gNMI Set (docs/benchmarks.md,
"A 64 MB gNMI Set").

    python3 bench/scripts/gnmi_set_memory.py OCBGPD [MB] [KIND]

Starts OCBGPD (no peers, gNMI on 127.0.0.1:19339, NETCONF off) in a
temporary state directory, then sends one Set with pygnmi (JSON_IETF) of
about MB megabytes (default 64) and prints the daemon's VmRSS before,
VmHWM (peak) after the Set, VmRSS 2 s after, and VmRSS 2 s after a second
Set that puts a small value back (or deletes the prefix-set): what is
still held then is not the large value.
KIND: `description` (one string leaf of MB bytes, the default) or
`prefixes` (a prefix-set of that much JSON).
"""
import json, os, subprocess, sys, tempfile, time, socket

from pygnmi.client import gNMIclient

binary = sys.argv[1]
size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 64
kind = sys.argv[3] if len(sys.argv) > 3 else "description"
PORT = 19339
NI = "/network-instances/network-instance[name=DEFAULT]/protocols/protocol[identifier=BGP][name=BGP]/bgp"

config = {
    "openconfig-network-instance:network-instances": {"network-instance": [{
        "name": "DEFAULT",
        "config": {"name": "DEFAULT", "type": "openconfig-network-instance-types:DEFAULT_INSTANCE"},
        "protocols": {"protocol": [{
            "identifier": "openconfig-policy-types:BGP", "name": "BGP",
            "config": {"identifier": "openconfig-policy-types:BGP", "name": "BGP", "enabled": True},
            "bgp": {"global": {"config": {"as": 65001, "router-id": "192.0.2.1"},
                               "ocbgp:listen": {"config": {"enabled": False}}},
                    "neighbors": {"neighbor": [{"neighbor-address": "192.0.2.2",
                        "config": {"neighbor-address": "192.0.2.2", "peer-as": 65002, "enabled": False}}]}},
        }]},
    }]},
    "ocbgp:management": {"gnmi": {"config": {"address": "127.0.0.1", "port": PORT}},
                         "netconf": {"config": {"enabled": False}}},
}


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) // 1024
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="setmem-")
    cfg = os.path.join(tmp, "ocbgpd.json")
    with open(cfg, "w") as f:
        json.dump(config, f)
    log = open(os.path.join(tmp, "log"), "w")
    p = subprocess.Popen([binary, "--config", cfg, "--state-dir", os.path.join(tmp, "state")],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or p.poll() is not None:
                    sys.exit("ocbgpd did not come up: see " + log.name)
                time.sleep(0.1)
        if kind == "description":
            path = NI + "/neighbors/neighbor[neighbor-address=192.0.2.2]/config/description"
            value = json.dumps("d" * (size_mb * 1000 * 1000 - 2))
        else:
            n = 0
            entries = []
            total = 0
            while total < size_mb * 1000 * 1000:
                a, b, c = (n >> 16) & 255, (n >> 8) & 255, n & 255
                pfx = f"10.{a}.{b}.{c}/32"
                e = {"ip-prefix": pfx, "masklength-range": "exact",
                     "config": {"ip-prefix": pfx, "masklength-range": "exact"}}
                total += len(json.dumps(e)) + 2
                entries.append(e)
                n += 1
            path = "/routing-policy/defined-sets/prefix-sets/prefix-set[name=BIG]"
            value = json.dumps({"name": "BIG", "config": {"name": "BIG", "mode": "IPV4"},
                                "prefixes": {"prefix": entries}})
        before = status(p.pid)
        t = time.time()
        with gNMIclient(target=("127.0.0.1", PORT), insecure=True, timeout=600,
                        grpc_options=[("grpc.max_send_message_length", 100 << 20)]) as gc:
            gc.set(update=[(path, value)], encoding="json_ietf")
            took = time.time() - t
            peak = status(p.pid)
            time.sleep(2)
            after = status(p.pid)
            # The same leaf set small again: what stays is not the value.
            if kind == "description":
                gc.set(update=[(path, "small")], encoding="json_ietf")
            else:
                gc.set(delete=[path], encoding="json_ietf")
            time.sleep(2)
            small = status(p.pid)
        print(json.dumps({"kind": kind, "request_mb": round(len(value) / 1e6, 1),
                          "seconds": round(took, 2), "rss_before_mb": before["VmRSS"],
                          "peak_mb": peak["VmHWM"], "rss_after_mb": after["VmRSS"],
                          "rss_after_small_set_mb": small["VmRSS"]}))
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


main()
