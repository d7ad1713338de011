# get-schema returns the embedded module text; listed in netconf-state.
m = connect()
text = m.get_schema("ocbgp").data
assert text.startswith("module ocbgp {"), text[:80]
text = m.get_schema("openconfig-network-instance", format="yang").data
assert "module openconfig-network-instance" in text
expect_error(lambda: m.get_schema("no-such-module"), "invalid-value")
expect_error(lambda: m.get_schema("ocbgp", version="1999-01-01"), "invalid-value")
m.get_schema("ocbgp", version="2026-11-26")
d = data(m.get(filter=("subtree", '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><schemas/></netconf-state>')))
ids = d.xpath("//*[local-name()='schema']/*[local-name()='identifier']/text()")
assert "ocbgp" in ids and "openconfig-bgp" in ids, ids
# yang-library (RFC 8525): the capability with a content-id, and the data.
YL = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
caps = [c for c in m.server_capabilities if c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1?")]
assert len(caps) == 1 and "revision=2019-01-04" in caps[0] and "content-id=" in caps[0], caps
cid = caps[0].split("content-id=")[1]
d = data(m.get(filter=("subtree", '<yang-library xmlns="%s"><module-set/><content-id/></yang-library>' % YL)))
ns = {"yl": YL}
assert d.xpath("//yl:module-set/yl:name/text()", namespaces=ns) == ["ocbgp"]
assert d.xpath("//yl:content-id/text()", namespaces=ns) == [cid]
rev = d.xpath("//yl:module[yl:name='openconfig-bgp']/yl:revision/text()", namespaces=ns)
assert len(rev) == 1 and rev[0], rev
print("OK")
