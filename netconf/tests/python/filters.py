# Subtree and XPath filters return exactly the nodes asked for; with-defaults.
def elements(d):
    return sorted(etree.QName(e).localname for e in d.iter() if isinstance(e.tag, str))

m = connect()
# Subtree: one neighbor's peer-as (the list keys come along).
f = neighbors("<neighbor><neighbor-address>192.0.2.3</neighbor-address><config><peer-as/></config></neighbor>")
d = data(m.get_config(source="running", filter=("subtree", f)))
assert d.xpath("//ni:neighbor/ni:neighbor-address/text()", namespaces=NS) == ["192.0.2.3"], etree.tostring(d)
assert d.xpath("//ni:neighbor/ni:config/*/text()", namespaces=NS) == ["65003"], etree.tostring(d)
assert elements(d) == sorted(["data", "network-instances", "network-instance", "name", "protocols", "protocol",
                              "identifier", "name", "bgp", "neighbors", "neighbor", "neighbor-address",
                              "config", "peer-as"]), elements(d)
# Content match on a non-key leaf: the whole matching entry.
f = neighbors("<neighbor><config><description>first</description></config></neighbor>")
d = data(m.get_config(source="running", filter=("subtree", f)))
assert d.xpath("//ni:neighbor/ni:neighbor-address/text()", namespaces=NS) == ["192.0.2.2"]
assert d.xpath("//ni:neighbor/ni:config/ni:peer-as/text()", namespaces=NS) == ["65002"]
# No match: empty data.
f = neighbors("<neighbor><neighbor-address>198.51.100.1</neighbor-address></neighbor>")
d = data(m.get_config(source="running", filter=("subtree", f)))
assert len(d) == 0, etree.tostring(d)
# Selection of a container of another module.
d = data(m.get_config(source="running", filter=("subtree", '<management xmlns="%s"><users/></management>' % OCBGP)))
assert sorted(d.xpath("//o:user/o:name/text()", namespaces=NS)) == ["admin", "keyuser", "ops"]
assert d.xpath("//ni:network-instances", namespaces=NS) == []

# XPath: exactly the selected nodes, with their ancestors and keys.
d = data(m.get_config(source="running", filter=("xpath", ({"n": NI}, NEIGHBOR.replace("ni:", "n:") + "/n:config/n:peer-as"))))
assert sorted(d.xpath("//ni:peer-as/text()", namespaces=NS)) == ["65002", "65003"]
assert d.xpath("//ni:description", namespaces=NS) == []
d = data(m.get_config(source="running", filter=("xpath", ({"n": NI}, NEIGHBOR.replace("ni:", "n:") + "[n:config/n:peer-as=65002]"))))
assert d.xpath("//ni:neighbor/ni:neighbor-address/text()", namespaces=NS) == ["192.0.2.2"], etree.tostring(d)
assert d.xpath("//ni:description/text()", namespaces=NS) == ["first"], etree.tostring(d)

# get: configuration and netconf-state; filters apply to both.
d = data(m.get(filter=("subtree", '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions/></netconf-state>')))
ids = d.xpath("//*[local-name()='session']/*[local-name()='session-id']/text()")
assert str(m.session_id) in ids, etree.tostring(d)
assert d.xpath("//ni:network-instances", namespaces=NS) == []
d = data(m.get(filter=("subtree", f)))
assert d.xpath("//*[local-name()='netconf-state']") == []
d = data(m.get(filter=("xpath", ({"n": NI}, NEIGHBOR.replace("ni:", "n:") + "/n:config/n:description"))))
assert d.xpath("//ni:description/text()", namespaces=NS) == ["first"]

# with-defaults: the netconf server's port default shows only with report-all.
mgmt = ("subtree", '<management xmlns="%s"><netconf/></management>' % OCBGP)
d = data(m.get_config(source="running", filter=mgmt))
assert d.xpath("//o:port", namespaces=NS) == [], etree.tostring(d)
d = data(m.get_config(source="running", filter=mgmt, with_defaults="report-all"))
assert d.xpath("//o:netconf/o:config/o:port/text()", namespaces=NS) == ["830"], etree.tostring(d)
d = data(m.get_config(source="candidate", filter=mgmt, with_defaults="report-all"))
assert d.xpath("//o:netconf/o:config/o:port/text()", namespaces=NS) == ["830"], etree.tostring(d)
m.edit_config(target="running", config=config('<management xmlns="%s"><netconf><config><port>8830</port></config></netconf></management>' % OCBGP))
d = data(m.get_config(source="running", filter=mgmt))
assert d.xpath("//o:netconf/o:config/*/text()", namespaces=NS) == ["8830"], etree.tostring(d)
d = data(m.get_config(source="running", filter=mgmt, with_defaults="trim"))
assert d.xpath("//o:netconf/o:config/*/text()", namespaces=NS) == ["8830"], etree.tostring(d)
d = data(m.get_config(source="running", filter=mgmt, with_defaults="report-all"))
assert sorted(d.xpath("//o:netconf/o:config/*/text()", namespaces=NS)) == ["127.0.0.1", "8830", "true"], etree.tostring(d)
print("OK")
