"""A zip writer with control over every header field, for archives no library would write
(duplicate names, local/central disagreements, encrypted flags, members hidden from the central
directory, prepended data), and helpers to read torch's zips and pin zip timestamps.

All timestamps are fixed at 1980-01-01 00:00 so output is byte-for-byte reproducible.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass, field

DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01
DOS_TIME = 0


@dataclass
class Member:
    name: str
    data: bytes
    method: int = 0  # 0 stored, 8 deflate
    flags: int = 0x0800  # UTF-8 names, like torch
    # Overrides, for hostile archives: what the local header or the central entry claims.
    local_name: str | None = None
    local_flags: int | None = None
    local_sizes: tuple[int, int] | None = None  # (compressed, uncompressed)
    central_sizes: tuple[int, int] | None = None
    local_crc: int | None = None
    in_central: bool = True
    align: int = 64  # torch aligns member data to 64 bytes with an "FB" extra field
    compressed: bytes | None = field(default=None, repr=False)  # precomputed payload


def _compress(m: Member) -> bytes:
    if m.compressed is not None:
        return m.compressed
    if m.method == 0:
        return m.data
    if m.method == 8:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(m.data) + c.flush()
    raise ValueError(f"unsupported method {m.method}")


def deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build_zip(members: list[Member], prefix: bytes = b"", offsets_include_prefix: bool = True,
              comment: bytes = b"") -> bytes:
    """Writes ``members`` as a zip (optionally after ``prefix``). Offsets in the central
    directory count from the start of the file when ``offsets_include_prefix`` (a proper
    self-extracting-style polyglot), else from the start of the zip part."""
    out = bytearray(prefix)
    base = 0 if offsets_include_prefix else len(prefix)
    central = bytearray()
    count = 0
    for m in members:
        payload = _compress(m)
        crc = zlib.crc32(m.data) & 0xFFFFFFFF
        csize, usize = len(payload), len(m.data)
        lname = (m.local_name if m.local_name is not None else m.name).encode("utf-8")
        cname = m.name.encode("utf-8")
        lflags = m.local_flags if m.local_flags is not None else m.flags
        lcs, lus = m.local_sizes if m.local_sizes is not None else (csize, usize)
        ccs, cus = m.central_sizes if m.central_sizes is not None else (csize, usize)
        lcrc = m.local_crc if m.local_crc is not None else crc
        offset = len(out) - base
        header_len = 30 + len(lname)
        extra = b""
        if m.align:
            pad = (-(len(out) + header_len + 4)) % m.align
            extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, lflags, m.method, DOS_TIME, DOS_DATE,
            lcrc, lcs, lus, len(lname), len(extra),
        )
        out += lname + extra + payload
        if m.in_central:
            central += struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, m.flags, m.method, DOS_TIME,
                DOS_DATE, crc, ccs, cus, len(cname), 0, 0, 0, 0, 0, offset,
            )
            central += cname
            count += 1
    cd_offset = len(out) - base
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), cd_offset,
                       len(comment))
    out += comment
    return bytes(out)


def read_members(data: bytes) -> list[Member]:
    """The members of a well-formed zip, in central-directory order (torch's layout kept)."""
    import io

    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            out.append(Member(info.filename, z.read(info), method=info.compress_type))
    return out


def pin_zip_times(data: bytes) -> bytes:
    """Sets every local and central DOS timestamp in a well-formed zip to 1980-01-01 00:00,
    leaving every other byte as the writing library made it."""
    import io

    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        infos = z.infolist()
    # Central directory: find it from the end-of-central-directory record.
    eocd = buf.rfind(b"PK\x05\x06")
    (_, _, _, _, total, cd_size, cd_off) = struct.unpack_from("<IHHHHII", buf, eocd)
    if cd_off == 0xFFFFFFFF:  # zip64
        loc = buf.rfind(b"PK\x06\x06")
        cd_off = struct.unpack_from("<Q", buf, loc + 48)[0]
    pos = cd_off
    for _ in infos:
        assert buf[pos:pos + 4] == b"PK\x01\x02"
        struct.pack_into("<HH", buf, pos + 12, DOS_TIME, DOS_DATE)
        nlen, xlen, clen = struct.unpack_from("<HHH", buf, pos + 28)
        pos += 46 + nlen + xlen + clen
    for info in infos:
        off = info.header_offset
        assert buf[off:off + 4] == b"PK\x03\x04"
        struct.pack_into("<HH", buf, off + 10, DOS_TIME, DOS_DATE)
    return bytes(buf)


def write_stdlib_zip(entries: list[tuple[str, bytes]], compression=zipfile.ZIP_STORED) -> bytes:
    """A plain zip written by Python's zipfile with fixed timestamps."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()
