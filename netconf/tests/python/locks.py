# Lock contention between sessions; kill-session releases the lock.
from ncclient.transport.errors import TransportError
from ncclient.operations.errors import TimeoutExpiredError

a = connect()
b = connect()
c = connect()
a.lock("running")
e = expect_error(lambda: b.lock("running"), "lock-denied")
assert ("<session-id>%s</session-id>" % a.session_id) in error_text(e).replace("nc:", ""), error_text(e)
before = config_text(c)
expect_error(lambda: b.edit_config(target="running", config=config(neighbors(neighbor("192.0.2.2", "<config><description>b</description></config>")))), "in-use")
assert config_text(c) == before
a.edit_config(target="running", config=config(neighbors(neighbor("192.0.2.2", "<config><description>a</description></config>"))))
assert leaf(c, "192.0.2.2", "description") == "a"

# The candidate lock too, with the candidate's changes going with it.
a.lock("candidate")
expect_error(lambda: b.lock("candidate"), "lock-denied")
expect_error(lambda: b.edit_config(target="candidate", config=config(neighbors(neighbor("192.0.2.2", "<config><description>x</description></config>")))), "in-use")
expect_error(lambda: b.discard_changes(), "in-use")
a.edit_config(target="candidate", config=config(neighbors(neighbor("192.0.2.2", "<config><description>cand</description></config>"))))

# c kills a: both locks go, and the candidate's changes with them.
c.kill_session(a.session_id)
b.lock("running")
b.lock("candidate")
assert leaf(b, "192.0.2.2", "description", "candidate") == "a"
try:
    a.get_config(source="running")
    raise AssertionError("the killed session still answers")
except (TransportError, TimeoutExpiredError, Exception) as e:
    assert not isinstance(e, AssertionError), e
b.unlock("running")
b.unlock("candidate")
expect_error(lambda: b.unlock("candidate"), "operation-failed")
print("OK")
