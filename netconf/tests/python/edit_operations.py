# Every edit-config operation, and each error case changing nothing.
m = connect()

def edit(inner, target="running", **kw):
    m.edit_config(target=target, config=config(neighbors(inner)), **kw)

def unchanged(fn, tag):
    before = config_text(m)
    e = expect_error(fn, tag)
    assert config_text(m) == before, "an edit that failed changed running"
    return e

# merge
edit(neighbor("192.0.2.2", '<config nc:operation="merge"><description>merged</description></config>'))
assert leaf(m, "192.0.2.2", "description") == "merged"
assert leaf(m, "192.0.2.2", "peer-as") == "65002"
# replace: what the new content lacks goes
edit(neighbor("192.0.2.2", '<config nc:operation="replace"><neighbor-address>192.0.2.2</neighbor-address><peer-as>65002</peer-as></config>'))
assert leaf(m, "192.0.2.2", "description") is None
assert leaf(m, "192.0.2.2", "peer-as") == "65002"
# create
new = "<config><neighbor-address>192.0.2.9</neighbor-address><peer-as>65009</peer-as></config>"
edit(neighbor("192.0.2.9", new, op="create"))
assert leaf(m, "192.0.2.9", "peer-as") == "65009"
e = unchanged(lambda: edit(neighbor("192.0.2.9", new, op="create")), "data-exists")
assert "192.0.2.9" in (e.path or ""), error_text(e)
# delete
edit(neighbor("192.0.2.9", op="delete"))
assert neighbor_addresses(m) == ["192.0.2.2", "192.0.2.3"]
e = unchanged(lambda: edit(neighbor("192.0.2.9", op="delete")), "data-missing")
assert e.type == "application"
# remove: no error when absent
edit(neighbor("192.0.2.9", op="remove"))
edit(neighbor("192.0.2.2", '<config><description nc:operation="create">d</description></config>'))
edit(neighbor("192.0.2.2", '<config><description nc:operation="remove"/></config>'))
assert leaf(m, "192.0.2.2", "description") is None
# default-operation none: only the operation marked applies
edit(neighbor("192.0.2.3", '<config><description nc:operation="merge">only</description><peer-as>1</peer-as></config>'),
     default_operation="none")
assert leaf(m, "192.0.2.3", "description") == "only"
assert leaf(m, "192.0.2.3", "peer-as") == "65003"
# test-only changes nothing
before = config_text(m)
edit(neighbor("192.0.2.3", "<config><peer-as>7</peer-as></config>"), test_option="test-only")
assert config_text(m) == before

# errors: bad value, unknown element, bad operation, state data, a key missing,
# continue-on-error, an invalid result
e = unchanged(lambda: edit(neighbor("192.0.2.2", "<config><peer-as>not-a-number</peer-as></config>")), "invalid-value")
assert e.path and "peer-as" in e.path, error_text(e)
e = unchanged(lambda: edit(neighbor("192.0.2.2", "<config><colour>red</colour></config>")), "unknown-element")
assert "colour" in error_text(e) and e.type == "application", error_text(e)
unchanged(lambda: edit(neighbor("192.0.2.2", '<config nc:operation="frob"/>')), "bad-attribute")
unchanged(lambda: edit(neighbor("192.0.2.2", "<state><peer-as>1</peer-as></state>")), "invalid-value")
unchanged(lambda: edit('<neighbor nc:operation="create"><config><peer-as>1</peer-as></config></neighbor>'), "missing-element")
unchanged(lambda: edit(neighbor("192.0.2.2", "<config><peer-as>5</peer-as></config>"), error_option="continue-on-error"), "operation-not-supported")
unchanged(lambda: edit(neighbor("192.0.2.2", "<config><peer-group>none</peer-group></config>")), "data-missing")
# a failed edit of several parts leaves nothing half done
unchanged(lambda: edit(neighbor("192.0.2.2", "<config><description>half</description></config>")
                       + neighbor("192.0.2.3", "<config><peer-as>x</peer-as></config>")), "invalid-value")
# the candidate too
cand = config_text(m, "candidate")
expect_error(lambda: edit(neighbor("192.0.2.2", "<config><peer-as>x</peer-as></config>"), target="candidate"), "invalid-value")
assert config_text(m, "candidate") == cand
expect_error(lambda: edit(neighbor("192.0.2.2", "<config><peer-group>none</peer-group></config>"), target="candidate",
                          test_option="test-then-set"), "data-missing")
assert config_text(m, "candidate") == cand
# delete-config of the candidate empties it; discard-changes brings it back
m.delete_config(target="candidate")
assert neighbor_addresses(m, "candidate") == []
m.discard_changes()
assert neighbor_addresses(m, "candidate") == ["192.0.2.2", "192.0.2.3"]
print("OK")
