# Helpers for the Python NETCONF tests, run by the Rust tests with
# `python3 -c` and NC_HOST / NC_PORT pointing at a test server.
import os
import subprocess
import sys
import time

from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

HOST = os.environ["NC_HOST"]
PORT = int(os.environ["NC_PORT"])
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NI = "http://openconfig.net/yang/network-instance"
PT = "http://openconfig.net/yang/policy-types"
OCBGP = "urn:ocbgp:yang:ocbgp"
NS = {"nc": NC, "ni": NI, "o": OCBGP}
NEIGHBOR = ("/ni:network-instances/ni:network-instance[ni:name='DEFAULT']/ni:protocols/ni:protocol"
            "/ni:bgp/ni:neighbors/ni:neighbor")


def connect(user="admin", password="admin"):
    return manager.connect(host=HOST, port=PORT, username=user, password=password,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False,
                           timeout=30)


def neighbors(inner):
    return ('<network-instances xmlns="%s"><network-instance><name>DEFAULT</name><protocols>'
            '<protocol xmlns:pt="%s"><identifier>pt:BGP</identifier><name>BGP</name><bgp><neighbors>'
            '%s</neighbors></bgp></protocol></protocols></network-instance></network-instances>'
            % (NI, PT, inner))


def config(inner):
    return '<config xmlns="%s" xmlns:nc="%s">%s</config>' % (NC, NC, inner)


def neighbor(addr, inner="", op=None):
    attr = ' nc:operation="%s"' % op if op else ""
    return "<neighbor%s><neighbor-address>%s</neighbor-address>%s</neighbor>" % (attr, addr, inner)


def expect_error(fn, tag):
    try:
        fn()
    except RPCError as e:
        assert e.tag == tag, "expected %s, got %s: %s" % (tag, e.tag, error_text(e))
        return e
    raise AssertionError("expected %s, got success" % tag)


def error_text(e):
    """An RPCError's rpc-error element as text."""
    x = getattr(e, "xml", None)
    return etree.tostring(x).decode() if x is not None else str(e)


def data(reply):
    return etree.fromstring(reply.data_xml.encode() if isinstance(reply.data_xml, str) else reply.data_xml)


def config_text(m, source="running"):
    """The configuration, as text, for before/after comparisons."""
    return m.get_config(source=source).data_xml


def leaf(m, addr, name, source="running"):
    """A leaf of a neighbor's config, None when absent."""
    d = data(m.get_config(source=source, filter=("xpath", (
        {"ni": NI}, NEIGHBOR + "[ni:neighbor-address='%s']/ni:config/ni:%s" % (addr, name)))))
    found = d.xpath("//ni:neighbor/ni:config/ni:%s/text()" % name, namespaces=NS)
    return found[0] if found else None


def neighbor_addresses(m, source="running"):
    d = data(m.get_config(source=source, filter=("xpath", ({"ni": NI}, NEIGHBOR))))
    return sorted(d.xpath("//ni:neighbor/ni:neighbor-address/text()", namespaces=NS))


def wait_for(check, what, limit=20.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)
