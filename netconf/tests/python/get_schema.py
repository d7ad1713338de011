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
print("OK")
