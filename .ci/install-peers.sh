#!/usr/bin/env bash
# Install what the tests drive: FTP clients, and the peer servers (vsftpd, Pure-FTPd, ProFTPD, pyftpdlib,
# and the inetd-style GNU inetutils ftpd and netkit ftpd-ssl, started per connection by the tests).
# vsftpd, pure-ftpd and proftpd conflict as installed packages (each provides ftp-server), so their
# .debs are unpacked with dpkg -x into .peers/ and run from there; their libraries are installed normally.
# Idempotent; needs root (CI and the development machines run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# Package scripts must not start services on this machine.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d

apt-get update
apt-get install -y --no-install-recommends \
  curl lftp wget tnftp python3 python3-pyftpdlib python3-openssl openssl ca-certificates \
  rclone ncftp busybox inetutils-ftp aria2 wput \
  libcap2 libpam0g libpam-modules libssl3 libwrap0 libsodium23 libcrypt1 \
  libacl1 libhiredis0.14 libidn2-0 libmemcached11 libmemcachedutil2 libncursesw6 libtinfo6 libpcre2-posix3

peers=.peers
mkdir -p "$peers/debs"
# proftpd-mod-crypto (mod_tls) unpacks into the same tree as proftpd-core.
for spec in vsftpd:vsftpd pure-ftpd:pure-ftpd proftpd-core:proftpd-core proftpd-mod-crypto:proftpd-core \
    inetutils-ftpd:inetutils-ftpd ftpd-ssl:ftpd-ssl; do
  pkg=${spec%%:*}; dir=$peers/${spec##*:}
  if [ -e "$peers/debs/.$pkg.done" ]; then continue; fi
  (cd "$peers/debs" && apt-get download "$pkg")
  mkdir -p "$dir"
  dpkg -x "$peers"/debs/"${pkg}"_*.deb "$dir"
  touch "$peers/debs/.$pkg.done"
done

# A run-time check that each unpacked server starts far enough to print its version.
for bin in "$peers/vsftpd/usr/sbin/vsftpd" "$peers/pure-ftpd/usr/sbin/pure-ftpd" "$peers/proftpd-core/usr/sbin/proftpd" \
    "$peers/inetutils-ftpd/usr/sbin/ftpd" "$peers/ftpd-ssl/usr/sbin/in.ftpd"; do
  if [ -x "$bin" ] && ldd "$bin" | grep -q 'not found'; then
    echo "missing libraries for $bin:"; ldd "$bin" | grep 'not found'
  fi
done
# Debian's pyftpdlib belongs to Debian's interpreter, whatever python3 is first on PATH.
/usr/bin/python3 -c 'import pyftpdlib; print("pyftpdlib", pyftpdlib.__ver__)'
echo "peers installed in $peers: $(ls "$peers" | grep -v debs | tr '\n' ' ')"
