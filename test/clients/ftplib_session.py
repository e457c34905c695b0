"""Drive a wharf server with Python's ftplib: every command family, passive and active, TLS optional.

Usage: ftplib_session.py PORT USER PASSWORD ROOT [tls]
Prints one line per check ("ok NAME" or "FAIL NAME: detail") and exits non-zero on any failure.
"""
import ftplib
import io
import os
import socket
import ssl
import sys

port, user, password, root = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
use_tls = len(sys.argv) > 5 and sys.argv[5] == "tls"
failures = 0


def check(name, cond, detail=""):
    global failures
    if cond:
        print(f"ok {name}")
    else:
        failures += 1
        print(f"FAIL {name}: {detail}")


def connect():
    if use_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        f = ftplib.FTP_TLS(context=ctx, timeout=20)
    else:
        f = ftplib.FTP(timeout=20)
    f.connect("127.0.0.1", port)
    f.login(user, password)
    if use_tls:
        f.prot_p()
    return f


ftp = connect()
check("pwd", ftp.pwd() == "/", ftp.pwd())
ftp.mkd("py")
ftp.cwd("py")
check("cwd", ftp.pwd() == "/py")

payload = os.urandom(1_500_000)
for passive in (True, False):
    ftp.set_pasv(passive)
    name = f"blob-{'pasv' if passive else 'port'}.bin"
    ftp.storbinary(f"STOR {name}", io.BytesIO(payload))
    with open(os.path.join(root, "py", name), "rb") as fh:
        check(f"stor bytes on disk ({'passive' if passive else 'active'})", fh.read() == payload)
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", out.write)
    check(f"retr bytes ({'passive' if passive else 'active'})", out.getvalue() == payload)
    check(f"size ({'passive' if passive else 'active'})", ftp.size(name) == len(payload))
ftp.set_pasv(True)

# REST: resume a download from an offset
out = io.BytesIO()
ftp.retrbinary("RETR blob-pasv.bin", out.write, rest=1_000_000)
check("retr with rest", out.getvalue() == payload[1_000_000:])

# TYPE A: storlines sends CRLF, disk has LF; retrlines reads lines back
ftp.storlines("STOR text.txt", io.BytesIO(b"alpha\nbeta\ngamma\n"))
with open(os.path.join(root, "py", "text.txt"), "rb") as fh:
    check("storlines stores LF on disk", fh.read() == b"alpha\nbeta\ngamma\n")
lines = []
ftp.retrlines("RETR text.txt", lines.append)
check("retrlines", lines == ["alpha", "beta", "gamma"], repr(lines))

# listings
names = ftp.nlst()
check("nlst", sorted(names) == ["blob-pasv.bin", "blob-port.bin", "text.txt"], repr(names))
facts = {n: f for n, f in ftp.mlsd()}
check("mlsd", facts.get("text.txt", {}).get("type") == "file" and facts["text.txt"].get("size") == "17", repr(facts))
listing = []
ftp.retrlines("LIST", listing.append)
check("list", any(l.endswith(" text.txt") and l.startswith("-rw") for l in listing), repr(listing))
check("mdtm", ftp.voidcmd("MDTM text.txt").startswith("213 "))

# rename, delete, UTF-8 names
ftp.rename("text.txt", "renamed.txt")
check("rename on disk", os.path.exists(os.path.join(root, "py", "renamed.txt")))
ftp.delete("renamed.txt")
check("delete on disk", not os.path.exists(os.path.join(root, "py", "renamed.txt")))
uname = "Grüße-日本.txt"
ftp.storbinary(f"STOR {uname}", io.BytesIO(b"utf8"))
check("utf8 name on disk", os.path.exists(os.path.join(root, "py", uname)))
check("utf8 name listed", uname in ftp.nlst())

# ABOR while a large download is flowing: the connection stays usable
big = os.path.join(root, "py", "big.bin")
with open(big, "wb") as fh:
    fh.write(os.urandom(64 * 1024 * 1024))
ftp.voidcmd("TYPE I")
conn = ftp.transfercmd("RETR big.bin")
conn.recv(65536)
resp = ftp.abort()
conn.close()
# RFC 959: the aborted transfer gets 426, then ABOR itself gets 226; ftplib's abort() reads only the first.
check("abor closes transfer with 426", resp[:3] == "426", resp)
check("abor then answered 226", ftp.getresp()[:3] == "226")
check("usable after abor", ftp.voidcmd("NOOP").startswith("200"))
check("pwd after abor", ftp.pwd() == "/py")

for n in ftp.nlst():
    ftp.delete(n)
ftp.cwd("/")
ftp.rmd("py")
check("rmd on disk", not os.path.exists(os.path.join(root, "py")))
ftp.quit()
sys.exit(1 if failures else 0)
