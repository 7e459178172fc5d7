#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (small, deterministic).

The frames are built here, independently of the crate's encoder. Input layouts are described
at the top of each fuzz target. Run from anywhere: python3 fuzz/gen_seeds.py
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

CONT, TEXT, BIN, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])

# frame_and_message flag bits
CLIENT, NO_ASSEMBLE, APP_PINGS, RSV1_OK, ALL_RSV_OK, LOCAL_CLOSE, TINY = (
    0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40)


def frame(opcode, payload=b"", fin=True, masked=True, rsv=0, key=KEY, length=None, form=None):
    """One frame; `form` forces the 7/16/64-bit length encoding, `length` lies about the size."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if masked else 0
    if form == 64 or (form is None and n > 0xFFFF):
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    elif form == 16 or (form is None and n > 125):
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | n])
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def close_payload(status, reason=b""):
    return struct.pack(">H", status) + reason


def stream(masked):
    """Named peer byte streams; `masked` for frames a client sends (read by a server)."""
    f = lambda *a, **k: frame(*a, masked=masked, **k)
    utf = "κόσμε ünïcødé 🎉".encode()
    return {
        "text": f(TEXT, b"hello"),
        "binary": f(BIN, bytes(range(16))),
        "empty_text": f(TEXT),
        "text16": f(TEXT, b"a" * 200),
        "binary64": f(BIN, b"\x00" * 40, form=64),
        "fragments": f(TEXT, utf[:3], fin=False) + f(PING, b"p") + f(CONT, utf[3:8], fin=False)
        + f(PONG) + f(CONT, utf[8:]),
        "binary_fragments": f(BIN, b"ab", fin=False) + f(CONT, b"cd", fin=False) + f(CONT, b"ef"),
        "ping_pong": f(PING, b"are you there") + f(PONG, b"yes") + f(PING),
        "close_reason": f(CLOSE, close_payload(1000, b"done")) + f(TEXT, b"late"),
        "close_empty": f(CLOSE),
        "close_4000": f(CLOSE, close_payload(4000, "ß".encode())),
        "messages_then_close": f(TEXT, b"one") + f(BIN, b"two") + f(PING, b"3")
        + f(CLOSE, close_payload(1001)),
        "rsv1_text": f(TEXT, b"compressed?", rsv=4),
        # Errors the receiver must report.
        "bad_utf8": f(TEXT, "κό".encode() + b"\xed\xa0\x80" + b"tail"),
        "bad_utf8_end": f(TEXT, b"x", fin=False) + f(CONT, b"\xe2\x82"),
        "bad_close_code": f(CLOSE, close_payload(1005)),
        "close_one_byte": f(CLOSE, b"\x03"),
        "bad_close_utf8": f(CLOSE, close_payload(1000, b"\xff")),
        "stray_continuation": f(CONT, b"x"),
        "text_inside_fragments": f(TEXT, b"a", fin=False) + f(BIN, b"b"),
        "reserved_opcode": f(0x3, b"x"),
        "fragmented_ping": f(PING, b"x", fin=False),
        "long_ping": f(PING, b"x" * 126),
        "huge_length": f(BIN, length=(1 << 63) - 1, form=64),
        "top_bit_length": f(BIN, length=1 << 63, form=64),
    }


def fam(flags, chunks, data, limits=(200, 250)):
    """`limits` (max frame, max message / 2) are written only with the TINY flag."""
    assert len(chunks) <= 16
    tiny = bytes(limits) if flags & TINY else b""
    return bytes([flags]) + tiny + bytes([len(chunks)]) + bytes(chunks) + data


def frame_and_message():
    seeds = {}
    for role, masked in ((0, True), (CLIENT, False)):
        name_role = "client" if role else "server"
        for name, data in stream(masked).items():
            seeds[f"{name_role}_{name}"] = fam(role, [], data)
        s = stream(masked)
        # Other modes, on a stream that exercises them.
        seeds[f"{name_role}_frames_passed_up"] = fam(role | NO_ASSEMBLE, [], s["fragments"])
        seeds[f"{name_role}_bytewise"] = fam(role, [1], s["fragments"])
        seeds[f"{name_role}_odd_chunks"] = fam(role | NO_ASSEMBLE, [3, 7, 0], s["messages_then_close"])
        seeds[f"{name_role}_app_pings"] = fam(role | APP_PINGS, [5], s["ping_pong"])
        seeds[f"{name_role}_local_close"] = fam(role | LOCAL_CLOSE, [9], s["messages_then_close"])
        seeds[f"{name_role}_rsv1_allowed"] = fam(role | RSV1_OK, [], s["rsv1_text"])
        seeds[f"{name_role}_tiny_limit_frame"] = fam(role | TINY, [], s["text16"][:8],
                                                    limits=(199, 250))
        f = lambda *a, **k: frame(*a, masked=masked, **k)
        seeds[f"{name_role}_tiny_limit_message"] = fam(
            role | TINY, [], f(BIN, b"1" * 200, fin=False) + f(CONT, b"2" * 200, fin=False)
            + f(CONT, b"3" * 200))
        seeds[f"{name_role}_tiny_limits_fit"] = fam(
            role | TINY | NO_ASSEMBLE, [2], f(TEXT, b"12345", fin=False) + f(PING, b"p")
            + f(CONT, b"6789"), limits=(5, 5))
    # Wrong masking for the role.
    seeds["server_unmasked"] = fam(0, [], frame(TEXT, b"hi", masked=False))
    seeds["client_masked"] = fam(CLIENT, [], frame(TEXT, b"hi", masked=True))
    return seeds


def utf8():
    texts = [
        b"",
        b"hello, world",
        "κόσμε".encode(),
        "Привет, мир! 你好，世界 🎉🚀 done".encode(),
        b"a" * 40 + "é".encode() + b"b" * 40,
        b"\xf4\x8f\xbf\xbf\xef\xbf\xbf\xed\x9f\xbf\xe0\xa0\x80\xc2\x80",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xc0\x80",
        b"\xe0\x9f\xbf",
        b"\xf0\x8f\xbf\xbf",
        b"0123456789abcdefghijklmnopqrstuvwxyz0123456789\xff",
        b"ok\xe2\x82",
    ]
    seeds = {}
    for i, t in enumerate(texts):
        seeds[f"whole_{i}"] = bytes([0]) + t
        # Split points inside multi-byte characters.
        seeds[f"split_{i}"] = bytes([3, 1, 2, 3]) + t
    return seeds


def close_payloads():
    payloads = [
        b"",
        b"\x03",
        close_payload(1000),
        close_payload(1000, b"bye"),
        close_payload(1005),
        close_payload(1015),
        close_payload(2999),
        close_payload(3000, "ünïcødé".encode()),
        close_payload(4999),
        close_payload(5000),
        close_payload(1000, b"\xff"),
        close_payload(1001, "é".encode() * 70),
    ]
    return {f"close_{i}": p for i, p in enumerate(payloads)}


def deflate_seeds():
    """Seeds for `deflate`: flags, limit, then masked frames whose payloads are raw DEFLATE
    (RSV1 on the first frame), made with Python's zlib; the 0xFF-separated round-trip view of
    the same bytes is whatever they are."""
    import zlib

    def compressed(messages, bits, takeover):
        c = zlib.compressobj(6, zlib.DEFLATED, -max(bits, 9))
        out = []
        for m in messages:
            if not takeover:
                c = zlib.compressobj(6, zlib.DEFLATED, -max(bits, 9))
            z = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
            out.append(z[:-4] if z.endswith(b"\x00\x00\xff\xff") else z)
        return out

    seeds = {}
    text = [b'{"id":1,"user":"alice","text":"hello"}' * 4, b'{"id":2,"user":"bob","text":"hi"}' * 3, b""]
    for bits in (8, 9, 12, 15):
        for takeover in (True, False):
            flags = (bits - 8) | (0x08 if takeover else 0) | 0x40
            frames = b""
            for i, z in enumerate(compressed(text, bits, takeover)):
                if i == 1 and len(z) > 4:  # a fragmented one
                    frames += frame(TEXT, z[:3], fin=False, rsv=4) + frame(CONT, z[3:])
                else:
                    frames += frame(BIN if i == 2 else TEXT, z, rsv=4)
            seeds[f"ctx{int(takeover)}_bits{bits}"] = bytes([flags, 0]) + frames
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    z = bomb.compress(b"\x00" * 100000) + bomb.flush(zlib.Z_SYNC_FLUSH)
    seeds["bomb"] = bytes([0x0F, 4]) + frame(BIN, z[:-4], rsv=4)
    seeds["rsv1_on_ping"] = bytes([0x0F, 0]) + frame(PING, b"x", rsv=4)
    seeds["rsv1_on_continuation"] = bytes([0x0F, 0]) + frame(TEXT, b"\xf2", fin=False, rsv=4) + frame(CONT, b"\x00", rsv=4)
    seeds["bfinal"] = bytes([0x0F, 0]) + frame(TEXT, zlib.compress(b"final block", 6)[2:-4], rsv=4)
    return seeds


def write(target, seeds):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)
    total = sum(len(v) for v in seeds.values())
    print(f"{target}: {len(seeds)} seeds, {total} bytes")


if __name__ == "__main__":
    write("frame_and_message", frame_and_message())
    write("utf8", utf8())
    write("close_payload", close_payloads())
    write("deflate", deflate_seeds())
