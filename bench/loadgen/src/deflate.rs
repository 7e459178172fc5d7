//! permessage-deflate (RFC 7692) on the load generator's side, as much as the benchmark needs:
//! the offer and the check of the server's answer, a raw-deflate compressor and inflater that
//! keep their context across messages (unless the answer says otherwise), and the JSON documents
//! the `deflate-json` and `idle --deflate` modes send.
//!
//! Codec: flate2 on zlib-rs (the same Rust zlib as websocket-rs; ws uses Node's zlib). Each
//! message is compressed with a sync flush and sent without the flush's trailing 00 00 ff ff,
//! RSV1 on its (only) frame; what comes back gets the four bytes appended and is inflated.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// What the loadgen offers: permessage-deflate with every default (context takeover both ways,
/// 15-bit windows), and `client_max_window_bits` without a value (the server may ask for a
/// smaller client window).
pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The parameters the server's answer agreed on.
#[derive(Clone, Copy, Debug)]
pub struct Agreed {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    pub server_max_window_bits: u8,
    pub client_max_window_bits: u8,
}

/// Checks the server's `Sec-WebSocket-Extensions` answer to `OFFER`: exactly one extension,
/// permessage-deflate, with parameters RFC 7692 allows in an answer to this offer.
pub fn parse_answer(header: Option<&str>) -> Result<Agreed, String> {
    let h = header.ok_or("the server did not accept permessage-deflate (no extension answered)")?;
    if h.contains(',') {
        return Err(format!("more than one extension answered: {h}"));
    }
    let mut parts = h.split(';').map(str::trim);
    let name = parts.next().unwrap_or("");
    if name != "permessage-deflate" {
        return Err(format!("answered extension is not permessage-deflate: {h}"));
    }
    let mut a = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let mut seen: Vec<&str> = Vec::new();
    for p in parts {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (p, None),
        };
        if seen.contains(&k) {
            return Err(format!("parameter {k} twice in the answer: {h}"));
        }
        seen.push(k);
        let bits = |v: Option<&str>| -> Result<u8, String> {
            v.and_then(|v| v.parse::<u8>().ok())
                .filter(|b| (8..=15).contains(b))
                .ok_or_else(|| format!("bad {k} in the answer: {h}"))
        };
        match (k, v) {
            ("server_no_context_takeover", None) => a.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => a.client_no_context_takeover = true,
            ("server_max_window_bits", v) => a.server_max_window_bits = bits(v)?,
            ("client_max_window_bits", v) => a.client_max_window_bits = bits(v)?,
            _ => return Err(format!("unexpected parameter {p} in the answer: {h}")),
        }
    }
    Ok(a)
}

/// The client's compressor: raw deflate, sync flush per message, the trailing 00 00 ff ff
/// stripped. Keeps its context across messages unless `client_no_context_takeover` was agreed.
pub struct Deflater {
    c: Compress,
    reset_each: bool,
}

impl Deflater {
    pub fn new(level: u32, agreed: &Agreed) -> Deflater {
        // zlib refuses a raw deflate window of 8 bits; 9 is what zlib itself uses for 8
        let bits = agreed.client_max_window_bits.max(9);
        Deflater {
            c: Compress::new_with_window_bits(Compression::new(level), false, bits),
            reset_each: agreed.client_no_context_takeover,
        }
    }

    /// Appends the compressed form of `msg` (without the sync flush's tail) to `out`.
    pub fn compress(&mut self, msg: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        let in0 = self.c.total_in();
        loop {
            let consumed = (self.c.total_in() - in0) as usize;
            // a sync flush of incompressible data costs at most ~5 bytes per 16 KiB block
            out.reserve(msg.len() - consumed + 64);
            let before = out.len();
            self.c
                .compress_vec(&msg[consumed..], out, FlushCompress::Sync)
                .map_err(|e| format!("deflate: {e}"))?;
            // done when everything went in and the flush did not fill the space it had
            if (self.c.total_in() - in0) as usize == msg.len() && out.len() < out.capacity() {
                break;
            }
            if out.len() == before && (self.c.total_in() - in0) as usize == msg.len() {
                break;
            }
        }
        if out.len() - start < 4 || out[out.len() - 4..] != TAIL {
            return Err("deflate: the sync flush did not end with 00 00 ff ff".to_string());
        }
        out.truncate(out.len() - 4);
        if out.len() == start {
            out.push(0x00); // an empty message: one empty stored block's first byte (RFC 7692 7.2.3.6)
        }
        if self.reset_each {
            self.c.reset();
        }
        Ok(())
    }
}

/// The client's inflater: raw inflate with a 15-bit window (enough for any window the server
/// uses), context kept across messages unless `server_no_context_takeover` was agreed.
pub struct Inflater {
    d: Decompress,
    reset_each: bool,
}

impl Inflater {
    pub fn new(agreed: &Agreed) -> Inflater {
        Inflater {
            d: Decompress::new_with_window_bits(false, 15),
            reset_each: agreed.server_no_context_takeover,
        }
    }

    /// Inflates one message's payload (as received, without the tail) into `out` (cleared
    /// first); more than `limit` bytes is an error.
    pub fn inflate(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), String> {
        out.clear();
        for part in [payload, &TAIL[..]] {
            let in0 = self.d.total_in();
            loop {
                let used = (self.d.total_in() - in0) as usize;
                if out.capacity() - out.len() < 1024 {
                    if out.len() >= limit {
                        return Err(format!("inflated message longer than {limit} bytes"));
                    }
                    out.reserve(4096);
                }
                let before = out.len();
                let st = self
                    .d
                    .decompress_vec(&part[used..], out, FlushDecompress::Sync)
                    .map_err(|e| format!("inflate: {e}"))?;
                if st == Status::StreamEnd {
                    return Err("inflate: a final deflate block in a message".to_string());
                }
                let used = (self.d.total_in() - in0) as usize;
                // all input taken and the output had room left: nothing more is pending
                if used == part.len() && out.len() < out.capacity() {
                    break;
                }
                if used == part.len() && out.len() == before {
                    break;
                }
            }
        }
        if out.len() > limit {
            return Err(format!("inflated message longer than {limit} bytes"));
        }
        if self.reset_each {
            self.d.reset(false);
        }
        Ok(())
    }
}

/// `n` different JSON documents of exactly `size` bytes each (UTF-8), all with the same keys and
/// varying values: what an application's messages look like (an order update of a web shop),
/// so that compression with context takeover works as it would on real traffic. Deterministic.
pub fn json_docs(n: usize, size: usize) -> Vec<Vec<u8>> {
    const FIRST: &[&str] = &[
        "Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas",
        "Klara", "Luis", "Mia", "Noah", "Olivia", "Paul",
    ];
    const LAST: &[&str] = &[
        "Schmidt",
        "Martin",
        "Rossi",
        "Novak",
        "García",
        "Johansson",
        "Dubois",
        "Kowalski",
        "Jensen",
        "Silva",
        "Meyer",
        "Bernard",
    ];
    const CITY: &[(&str, &str)] = &[
        ("Berlin", "DE"),
        ("Lyon", "FR"),
        ("Milano", "IT"),
        ("Praha", "CZ"),
        ("Sevilla", "ES"),
        ("Göteborg", "SE"),
        ("Porto", "PT"),
        ("Kraków", "PL"),
    ];
    const STATUS: &[&str] = &[
        "pending",
        "paid",
        "packed",
        "shipped",
        "delivered",
        "returned",
    ];
    const PRODUCTS: &[(&str, &str)] = &[
        ("KB-2041", "mechanical keyboard, brown switches"),
        ("MS-1180", "wireless mouse"),
        ("MN-2750", "27-inch monitor, 1440p"),
        ("CB-0061", "USB-C cable, 2 m"),
        ("HD-5520", "noise-cancelling headphones"),
        ("DK-3300", "laptop docking station"),
        ("WC-0910", "1080p webcam"),
        ("SD-0128", "microSD card, 128 GB"),
    ];
    const WORDS: &[&str] = &[
        "please",
        "leave",
        "the",
        "parcel",
        "at",
        "front",
        "door",
        "ring",
        "twice",
        "call",
        "before",
        "delivery",
        "neighbour",
        "accepts",
        "packages",
        "gift",
        "wrap",
        "no",
        "invoice",
        "in",
        "box",
        "fragile",
        "back",
        "entrance",
        "after",
        "6pm",
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move |m: usize| -> usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    let mut docs = Vec::with_capacity(n);
    for i in 0..n {
        let first = FIRST[rnd(FIRST.len())];
        let last = LAST[rnd(LAST.len())];
        let (city, country) = CITY[rnd(CITY.len())];
        let id = 1_000_000 + i as u64 * 7919 + rnd(7000) as u64;
        let head = format!(
            "{{\"type\":\"order.updated\",\"version\":3,\"orderId\":\"ORD-{id}\",\
             \"createdAt\":\"2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"status\":\"{}\",\
             \"customer\":{{\"id\":{},\"name\":\"{first} {last}\",\"email\":\"{}.{}{}@example.com\",\
             \"vip\":{}}},\"shipping\":{{\"street\":\"{} {}\",\"city\":\"{city}\",\
             \"postcode\":\"{:05}\",\"country\":\"{country}\",\"carrier\":\"{}\",\
             \"tracking\":\"{}{:010}\"}},\"paymentMethod\":\"{}\",\"discount\":{},\"items\":[",
            1 + rnd(12),
            1 + rnd(28),
            rnd(24),
            rnd(60),
            rnd(60),
            rnd(1000),
            STATUS[rnd(STATUS.len())],
            20_000 + rnd(900_000),
            first.to_lowercase(),
            last.to_lowercase(),
            rnd(100),
            rnd(5) == 0,
            ["Hauptstraße", "Rue de la Paix", "Via Roma", "Calle Mayor"][rnd(4)],
            1 + rnd(200),
            rnd(100_000),
            ["DHL", "UPS", "DPD", "GLS"][rnd(4)],
            ["JD", "1Z", "CX"][rnd(3)],
            rnd(1_000_000_000),
            ["card", "paypal", "sepa", "invoice"][rnd(4)],
            rnd(30),
        );
        let mut doc = head.into_bytes();
        // as many line items as fit (leaving room for the total and a short note), then a
        // note of delivery instructions fills the document up to exactly `size` bytes
        let mut total = 0u64;
        let mut count = 0;
        loop {
            let (sku, name) = PRODUCTS[rnd(PRODUCTS.len())];
            let qty = 1 + rnd(4) as u64;
            let cents = 499 + rnd(40000) as u64;
            let item = format!(
                "{}{{\"sku\":\"{sku}\",\"name\":\"{name}\",\"qty\":{qty},\"unitPrice\":{}.{:02},\
                 \"currency\":\"EUR\",\"warehouse\":\"{}\",\"inStock\":{}}}",
                if count > 0 { "," } else { "" },
                cents / 100,
                cents % 100,
                ["FRA-2", "LYS-1", "WAW-3"][rnd(3)],
                rnd(6) != 0,
            );
            if doc.len() + item.len() + 64 > size {
                break;
            }
            doc.extend_from_slice(item.as_bytes());
            total += qty * cents;
            count += 1;
        }
        doc.extend_from_slice(
            format!("],\"total\":{}.{:02},\"note\":\"", total / 100, total % 100).as_bytes(),
        );
        let tail = "\"}";
        let want = size.saturating_sub(tail.len());
        while doc.len() < want {
            let w = WORDS[rnd(WORDS.len())];
            if !doc.ends_with(b"\"") {
                doc.push(b' ');
            }
            doc.extend_from_slice(w.as_bytes());
        }
        // (the note's words are ASCII: the cut never splits a UTF-8 character)
        doc.truncate(want);
        if doc.last() == Some(&b' ') {
            *doc.last_mut().expect("not empty") = b'.';
        }
        doc.extend_from_slice(tail.as_bytes());
        docs.push(doc);
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed() -> Agreed {
        parse_answer(Some("permessage-deflate")).unwrap()
    }

    #[test]
    fn docs_are_json_of_the_size() {
        let docs = json_docs(64, 1024);
        assert_eq!(docs.len(), 64);
        for d in &docs {
            assert_eq!(d.len(), 1024);
            let s = std::str::from_utf8(d).unwrap();
            assert!(s.starts_with("{\"type\"") && s.ends_with("\"}"));
        }
        assert_ne!(docs[0], docs[1]);
    }

    #[test]
    fn round_trip_with_context() {
        let a = agreed();
        let docs = json_docs(8, 1024);
        let (mut c, mut d) = (Deflater::new(6, &a), Inflater::new(&a));
        let (mut z, mut plain) = (Vec::new(), Vec::new());
        let mut sizes = Vec::new();
        for doc in docs.iter().chain(docs.iter()) {
            z.clear();
            c.compress(doc, &mut z).unwrap();
            sizes.push(z.len());
            d.inflate(&z, &mut plain, 2048).unwrap();
            assert_eq!(&plain, doc);
        }
        // the second time round, the documents are in the window
        assert!(sizes[8] < sizes[0] / 2, "{sizes:?}");
    }

    #[test]
    fn answers() {
        assert!(parse_answer(None).is_err());
        assert!(parse_answer(Some("x-foo")).is_err());
        let a = parse_answer(Some(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        ))
        .unwrap();
        assert!(a.server_no_context_takeover && !a.client_no_context_takeover);
        assert_eq!(a.client_max_window_bits, 10);
        assert!(parse_answer(Some("permessage-deflate; client_max_window_bits=16")).is_err());
    }
}
