# netconf-console2 against the server: hello, edit the candidate, commit,
# read back with an XPath filter; lock contention reported.
import tempfile

def nc(*args, ok=True):
    cmd = ["netconf-console2", "--host", HOST, "--port", str(PORT), "-u", "admin", "-p", "admin"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if ok:
        assert r.returncode == 0, "%s failed: %s %s" % (cmd, r.stdout, r.stderr)
    return r.stdout + r.stderr

out = nc("--hello")
assert "urn:ietf:params:netconf:capability:candidate:1.0" in out, out
edit = tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False)
edit.write(neighbors(neighbor("192.0.2.3", "<config><description>from console</description></config>")))
edit.close()
nc("--db", "candidate", "--edit-config", edit.name, "--validate", "candidate", "--commit")
out = nc("--get-config", "-x", "/network-instances/network-instance/protocols/protocol/bgp/neighbors/neighbor/config/description",
         "--ns", "n=" + NI)
assert "from console" in out, out
m = connect()
assert leaf(m, "192.0.2.3", "description") == "from console"
m.lock("running")
out = nc("--lock", ok=False)
assert "lock-denied" in out, out
m.unlock("running")
nc("--lock")
os.unlink(edit.name)
print("OK")
