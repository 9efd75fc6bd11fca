#!/usr/bin/env python3
"""Recomputes a linkledger ledger's hash chain with nothing but Python's
standard library, to check linkledger's own `verify` (README: "The hash
chain"). Usage: verify_chain.py LEDGER.db [HEAD SEQ]. Prints the first link
whose record or hash does not match, and the head; exit 0 intact (and HEAD
found at SEQ), 1 broken."""
import hashlib, sqlite3, struct, sys

def item(s):
    b = s.encode()
    return str(len(b)).encode() + b":" + b + b","

def value(v):
    if v is None: return "n"
    if isinstance(v, int): return "i%d" % v
    if isinstance(v, float): return "r%016x" % struct.unpack(">Q", struct.pack(">d", v))[0]
    if isinstance(v, bytes): return "b" + v.hex()
    return "t" + v

db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
chain, expected, broken, heads = bytes(32), 1, None, {}
for seq, table, rid, event, fields, at, stored in db.execute(
        "SELECT seq, record_table, record_id, event, fields, recorded_at, chain"
        " FROM ledger_chain WHERE chain IS NOT NULL ORDER BY seq"):
    names = fields.split(",")
    cols = ", ".join('"%s"' % f for f in names)
    try:
        row = db.execute('SELECT %s FROM "%s" WHERE rowid = ?' % (cols, table), (rid,)).fetchone()
    except sqlite3.Error:
        row = None
    enc = b"".join(item(x) for x in (str(seq), table, str(rid), event, at))
    enc += b"".join(item(n) + item(value(v)) for n, v in zip(names, row)) if row else item("absent")
    chain = hashlib.sha256(chain + enc).digest()
    heads[seq] = chain.hex()
    if broken is None and (seq != expected or chain.hex() != stored):
        broken = (seq, table, rid, event)
    expected = seq + 1
print("head: seq %d %s" % (expected - 1, chain.hex()))
if broken:
    print("BROKEN at link %d: %s #%d (%s)" % broken)
if len(sys.argv) == 4 and heads.get(int(sys.argv[3])) != sys.argv[2].lower():
    print("the head given at seq %s is not in this ledger's history" % sys.argv[3])
    broken = broken or True
sys.exit(1 if broken else 0)
