# Confirmed commits: not confirmed in time they roll back by themselves;
# confirmed they stay; persist outlives the session; the end of the session
# without persist cancels; cancel-commit undoes.
def set_as(m, asn):
    m.edit_config(target="candidate", config=config(neighbors(neighbor("192.0.2.3", "<config><peer-as>%d</peer-as></config>" % asn))))

m = connect()
assert ":confirmed-commit" in m.server_capabilities
assert leaf(m, "192.0.2.3", "peer-as") == "65003"

# No confirmation: back after the timeout.
set_as(m, 64001)
m.commit(confirmed=True, timeout="2")
assert leaf(m, "192.0.2.3", "peer-as") == "64001"
wait_for(lambda: leaf(m, "192.0.2.3", "peer-as") == "65003", "the rollback of an unconfirmed commit", 15)

# Confirmed: stays.
set_as(m, 64002)
m.commit(confirmed=True, timeout="2")
m.commit()
time.sleep(3)
assert leaf(m, "192.0.2.3", "peer-as") == "64002"

# A follow-up confirmed commit extends the timeout; cancel-commit undoes
# both, back to before the first.
set_as(m, 64003)
m.commit(confirmed=True, timeout="60")
set_as(m, 64004)
m.commit(confirmed=True, timeout="60")
assert leaf(m, "192.0.2.3", "peer-as") == "64004"
other = connect()
expect_error(lambda: other.cancel_commit(), "in-use")
expect_error(lambda: other.commit(), "in-use")
m.cancel_commit()
assert leaf(m, "192.0.2.3", "peer-as") == "64002"
expect_error(lambda: m.cancel_commit(), "operation-failed")

# The session's end cancels a confirmed commit without persist.
set_as(m, 64005)
m.commit(confirmed=True, timeout="60")
assert leaf(other, "192.0.2.3", "peer-as") == "64005"
m.close_session()
wait_for(lambda: leaf(other, "192.0.2.3", "peer-as") == "64002", "the rollback at session end")

# With persist it outlives the session and is confirmed by persist-id.
m = connect()
set_as(m, 64006)
m.commit(confirmed=True, timeout="60", persist="token-1")
m.close_session()
time.sleep(0.5)
assert leaf(other, "192.0.2.3", "peer-as") == "64006"
expect_error(lambda: other.commit(persist_id="wrong"), "invalid-value")
other.commit(persist_id="token-1")
m = connect()
expect_error(lambda: m.cancel_commit(persist_id="token-1"), "operation-failed")
assert leaf(m, "192.0.2.3", "peer-as") == "64006"
print("OK")
