#!/usr/bin/env python3
"""Test generator of TCG crypto-agile event logs (PC Client Platform
Firmware Profile layout), written from the specification and independent of
lisec's code. It makes a plausible UEFI boot: CRTM and firmware in PCR 0,
Secure Boot variables in PCR 7, boot variables in PCR 1, boot applications
(shim, grub, kernel) in PCR 4, grub's commands in PCR 8, separators in 0-7,
and optionally the location certificate in PCR 15. Each event carries a
SHA-1 and a SHA-256 digest, as real firmware logs do.

Outputs: the binary log, the (PCR, SHA-256) extends to replay into a TPM
with tpm2_pcrextend, and a reference-values policy that approves the good
boot (whatever variant of the log is asked for), in lisec's policy format.

  attest_evgen.py --log LOG --extends EXT [--reference REF.json]
                  [--events N] [--bootloader good|evil] [--unknown-type]
                  [--tamper N] [--location CERT.der]... [--startup-locality L]
"""
import argparse
import hashlib
import json
import struct

EV = {
    "EV_NO_ACTION": 0x3, "EV_SEPARATOR": 0x4, "EV_EVENT_TAG": 0x6,
    "EV_S_CRTM_VERSION": 0x8, "EV_IPL": 0xD,
    "EV_EFI_VARIABLE_DRIVER_CONFIG": 0x80000001, "EV_EFI_VARIABLE_BOOT": 0x80000002,
    "EV_EFI_BOOT_SERVICES_APPLICATION": 0x80000003, "EV_EFI_ACTION": 0x80000007,
    "EV_EFI_PLATFORM_FIRMWARE_BLOB": 0x80000008, "EV_EFI_VARIABLE_AUTHORITY": 0x800000E0,
}
ALG_SHA1, ALG_SHA256 = 0x0004, 0x000B
LOCATION_TAG = 0x6C736563


def spec_id_header():
    sig = b"Spec ID Event03\0"
    body = sig + struct.pack("<IBBBB", 0, 0, 2, 0, 2)
    body += struct.pack("<I", 2) + struct.pack("<HH", ALG_SHA1, 20) + struct.pack("<HH", ALG_SHA256, 32)
    body += b"\0"  # no vendor info
    return struct.pack("<II", 0, EV["EV_NO_ACTION"]) + b"\0" * 20 + struct.pack("<I", len(body)) + body


def event2(pcr, etype, sha1, sha256, data):
    out = struct.pack("<III", pcr, etype, 2)
    out += struct.pack("<H", ALG_SHA1) + sha1 + struct.pack("<H", ALG_SHA256) + sha256
    return out + struct.pack("<I", len(data)) + data


def measured(content):
    return hashlib.sha1(content).digest(), hashlib.sha256(content).digest()


def variable_data(name, value):
    """UEFI_VARIABLE_DATA: GUID, name length (chars), data length, name (UTF-16), data."""
    guid = bytes(range(16))
    uname = name.encode("utf-16-le")
    return guid + struct.pack("<QQ", len(name), len(value)) + uname + value


def image_load(seed):
    """UEFI_IMAGE_LOAD_EVENT with an empty device path."""
    return struct.pack("<QQQQ", 0x1000 * (1 + len(seed)), 4096, 0, 0)


def boot_events(n_events, bootloader, unknown_type, location):
    """(pcr, type, what is measured or None for the event data, event data,
    approved) in log order."""
    ev = []
    ev.append((0, "EV_S_CRTM_VERSION", None, "1.0\0".encode("utf-16-le"), True))
    ev.append((0, "EV_EFI_PLATFORM_FIRMWARE_BLOB", b"firmware volume 1",
               struct.pack("<QQ", 0xFF000000, 0x100000), True))
    for name in ("SecureBoot", "PK", "KEK", "db", "dbx"):
        value = b"\x01" if name == "SecureBoot" else b"certificate list of " + name.encode()
        ev.append((7, "EV_EFI_VARIABLE_DRIVER_CONFIG", None, variable_data(name, value), True))
    for pcr in range(0, 8):
        ev.append((pcr, "EV_SEPARATOR", None, b"\0\0\0\0", True))
    ev.append((1, "EV_EFI_VARIABLE_BOOT", None, variable_data("BootOrder", b"\x01\x00"), True))
    ev.append((1, "EV_EFI_VARIABLE_BOOT", None, variable_data("Boot0001", b"linux entry"), True))
    ev.append((4, "EV_EFI_ACTION", None, b"Calling EFI Application from Boot Option", True))
    ev.append((7, "EV_EFI_VARIABLE_AUTHORITY", None, variable_data("db", b"vendor certificate"), True))
    ev.append((4, "EV_EFI_BOOT_SERVICES_APPLICATION", b"shim 15.8 image", image_load("shim"), True))
    loader = b"grub 2.12 image" if bootloader == "good" else b"grub 2.12 with a backdoor"
    ev.append((4, "EV_EFI_BOOT_SERVICES_APPLICATION", loader, image_load("grub"),
               bootloader == "good"))
    ev.append((4, "EV_EFI_BOOT_SERVICES_APPLICATION", b"vmlinuz 6.1", image_load("linux"), True))
    if unknown_type:
        ev.append((4, 0x800000FF, None, b"an event type no one described", False))
    # Pad with grub commands (EV_IPL, PCR 8) up to the number asked for.
    i = 0
    while len(ev) < n_events:
        cmd = ("grub_cmd: set var%d=value%d" % (i, i)).encode()
        ev.append((8, "EV_IPL", None, cmd, True))
        i += 1
    # Location certificates, in the order the agent measured them.
    for cert in location:
        d = hashlib.sha256(cert).digest()
        data = struct.pack("<II", LOCATION_TAG, 32) + d
        ev.append((15, "EV_EVENT_TAG", cert, data, None))
    return ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--extends", required=True)
    ap.add_argument("--reference")
    ap.add_argument("--events", type=int, default=40)
    ap.add_argument("--bootloader", choices=["good", "evil"], default="good")
    ap.add_argument("--unknown-type", action="store_true")
    ap.add_argument("--tamper", type=int, default=-1,
                    help="index of an event whose logged digest differs from what is extended")
    ap.add_argument("--location", action="append", default=[],
                    help="a location certificate measured into PCR 15 (repeatable)")
    ap.add_argument("--policy-id", default="test-boot-1")
    ap.add_argument("--startup-locality", type=int, choices=[0, 3, 4])
    a = ap.parse_args()

    location = [open(p, "rb").read() for p in a.location]
    events = boot_events(a.events, a.bootloader, a.unknown_type, location)
    log = bytearray(spec_id_header())
    # A platform that started at locality 3 says so, and PCR 0 then resets
    # to 00..03 (a TPM started at locality 0, like swtpm, needs no event).
    if a.startup_locality is not None:
        log += event2(0, EV["EV_NO_ACTION"], b"\0" * 20, b"\0" * 32,
                      b"StartupLocality\0" + bytes([a.startup_locality]))
    extends = []
    reference = {}
    for idx, (pcr, etype, content, data, approved) in enumerate(events):
        t = EV[etype] if isinstance(etype, str) else etype
        sha1, sha256 = measured(data if content is None else content)
        extends.append((pcr, sha256.hex()))
        logged = sha256
        if idx == a.tamper:
            logged = hashlib.sha256(b"not what was extended").digest()
        log += event2(pcr, t, sha1, logged, data)
        if approved and isinstance(etype, str):
            reference.setdefault((pcr, etype), set()).add(sha256.hex())
    # The good boot is approved even when the evil variant is generated.
    if a.bootloader == "evil":
        reference[(4, "EV_EFI_BOOT_SERVICES_APPLICATION")].add(
            hashlib.sha256(b"grub 2.12 image").hexdigest())
    with open(a.log, "wb") as f:
        f.write(log)
    with open(a.extends, "w") as f:
        for pcr, d in extends:
            f.write("%d %s\n" % (pcr, d))
    if a.reference:
        pcrs = sorted({p for p, _ in extends} | set(range(8)))
        doc = {"policy_id": a.policy_id,
               "description": "generated by tests/integration/attest_evgen.py",
               "pcrs": pcrs,
               "events": [{"pcr": p, "type": t, "digests": sorted(ds)}
                          for (p, t), ds in sorted(reference.items())]}
        with open(a.reference, "w") as f:
            json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
