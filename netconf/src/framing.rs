//! RFC 6242 message framing: the end-of-message marker of base:1.0 and the
//! chunked framing of base:1.1.
//!
//! The decoder is incremental: feed it bytes as they arrive from the SSH
//! channel and take whole messages out; it never buffers more than one
//! message plus the bytes of the next.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The base:1.0 end-of-message marker.
const EOM: &[u8] = b"]]>]]>";

/// Largest chunk-size RFC 6242 allows (4294967295).
const MAX_CHUNK: u64 = u32::MAX as u64;

/// Which framing a session uses. Every session starts with
/// [`Framing::EndOfMessage`] for the hello, then switches to
/// [`Framing::Chunked`] when both sides announce base:1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// base:1.0: each message ends with `]]>]]>`.
    EndOfMessage,
    /// base:1.1: each message is a sequence of `\n#<size>\n<data>` chunks
    /// ended by `\n##\n`.
    Chunked,
}

/// A framing violation; RFC 6242 says the session must then be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A chunk header did not have the form `\n#<1..4294967295>\n`.
    #[error("bad chunk header: {0}")]
    BadChunkHeader(String),
    /// A message grew past the configured limit.
    #[error("message larger than {0} bytes")]
    TooLarge(usize),
}

/// Incremental decoder of framed messages.
#[derive(Debug)]
pub struct Decoder {
    framing: Framing,
    max_message: usize,
    /// The chunks of the message being assembled (chunked framing only).
    message: BytesMut,
}

impl Decoder {
    /// A decoder starting in end-of-message framing that refuses messages
    /// larger than `max_message` bytes.
    pub fn new(max_message: usize) -> Decoder {
        Decoder {
            framing: Framing::EndOfMessage,
            max_message,
            message: BytesMut::new(),
        }
    }

    /// Switches framing, between messages (after the hello exchange).
    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
    }

    /// The framing in use.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Takes the next whole message out of `buf`, if `buf` holds one.
    /// Bytes of a partial message stay in `buf` (or in the decoder) until
    /// more arrive.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FramingError> {
        match self.framing {
            Framing::EndOfMessage => self.decode_eom(buf),
            Framing::Chunked => self.decode_chunked(buf),
        }
    }

    fn decode_eom(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FramingError> {
        match buf.windows(EOM.len()).position(|w| w == EOM) {
            Some(end) => {
                let message = buf.split_to(end).freeze();
                buf.advance(EOM.len());
                Ok(Some(message))
            }
            None if buf.len() > self.max_message + EOM.len() => {
                Err(FramingError::TooLarge(self.max_message))
            }
            None => Ok(None),
        }
    }

    fn decode_chunked(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FramingError> {
        loop {
            // Every chunk and the end marker start with "\n#".
            if buf.len() < 3 {
                return Ok(None);
            }
            if &buf[..2] != b"\n#" {
                return Err(FramingError::BadChunkHeader(preview(buf)));
            }
            if buf[2] == b'#' {
                if buf.len() < 4 {
                    return Ok(None);
                }
                if buf[3] != b'\n' {
                    return Err(FramingError::BadChunkHeader(preview(buf)));
                }
                buf.advance(4);
                return Ok(Some(std::mem::take(&mut self.message).freeze()));
            }
            // "\n#" digits "\n": at most 10 digits for a 32-bit size.
            let Some(nl) = buf[2..].iter().take(11).position(|&b| b == b'\n') else {
                if buf.len() >= 13 {
                    return Err(FramingError::BadChunkHeader(preview(buf)));
                }
                return Ok(None);
            };
            let digits = &buf[2..2 + nl];
            let size = parse_chunk_size(digits)
                .ok_or_else(|| FramingError::BadChunkHeader(preview(buf)))?;
            if self.message.len() + size > self.max_message {
                return Err(FramingError::TooLarge(self.max_message));
            }
            let header = 3 + nl;
            if buf.len() < header + size {
                return Ok(None);
            }
            buf.advance(header);
            self.message.put(buf.split_to(size));
        }
    }
}

/// A chunk size: decimal, no leading zero, 1..=4294967295.
fn parse_chunk_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (value <= MAX_CHUNK)
        .then(|| usize::try_from(value).ok())
        .flatten()
}

fn preview(buf: &[u8]) -> String {
    String::from_utf8_lossy(&buf[..buf.len().min(16)]).into_owned()
}

/// Frames one message for sending.
pub fn encode(framing: Framing, message: &[u8], out: &mut BytesMut) {
    encode_piece(framing, message, out);
    encode_end(framing, out);
}

/// Frames one piece of a message sent in pieces (a streamed reply); the
/// message ends with [`encode_end`]. Chunked framing makes each piece a
/// chunk.
pub fn encode_piece(framing: Framing, piece: &[u8], out: &mut BytesMut) {
    if piece.is_empty() {
        // A chunk is never empty.
        return;
    }
    if framing == Framing::Chunked {
        out.put_slice(format!("\n#{}\n", piece.len()).as_bytes());
    }
    out.reserve(piece.len() + EOM.len());
    out.put_slice(piece);
}

/// Ends a framed message.
pub fn encode_end(framing: Framing, out: &mut BytesMut) {
    match framing {
        Framing::EndOfMessage => out.put_slice(EOM),
        Framing::Chunked => out.put_slice(b"\n##\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(
        framing: Framing,
        input: &[u8],
        split: usize,
    ) -> Result<Vec<Bytes>, FramingError> {
        let mut d = Decoder::new(1 << 20);
        d.set_framing(framing);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(split.max(1)) {
            buf.extend_from_slice(piece);
            while let Some(m) = d.decode(&mut buf)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    #[test]
    fn end_of_message_in_any_split() {
        let input = b"<hello/>]]>]]><rpc message-id=\"1\"/>]]>]]><partial";
        for split in 1..input.len() {
            let got = decode_all(Framing::EndOfMessage, input, split).unwrap();
            assert_eq!(
                got,
                vec![
                    Bytes::from_static(b"<hello/>"),
                    Bytes::from_static(b"<rpc message-id=\"1\"/>")
                ]
            );
        }
    }

    #[test]
    fn chunked_example_of_rfc6242() {
        // The example of RFC 6242 section 4.2: one message in two chunks.
        let input = b"\n#4\n<rpc\n#18\n message-id=\"102\"\n\n##\n";
        for split in 1..input.len() {
            let got = decode_all(Framing::Chunked, input, split).unwrap();
            assert_eq!(got, vec![Bytes::from_static(b"<rpc message-id=\"102\"\n")]);
        }
    }

    #[test]
    fn a_message_in_pieces_is_one_message() {
        for framing in [Framing::Chunked, Framing::EndOfMessage] {
            let mut out = BytesMut::new();
            for piece in [&b"<rpc-reply>"[..], b"", b"<data/>", b"</rpc-reply>"] {
                encode_piece(framing, piece, &mut out);
            }
            encode_end(framing, &mut out);
            let got = decode_all(framing, &out, 5).unwrap();
            assert_eq!(
                got,
                vec![Bytes::from_static(b"<rpc-reply><data/></rpc-reply>")]
            );
        }
    }

    #[test]
    fn chunked_round_trip() {
        let mut out = BytesMut::new();
        encode(Framing::Chunked, b"<rpc-reply/>", &mut out);
        encode(Framing::Chunked, b"<ok/>", &mut out);
        let got = decode_all(Framing::Chunked, &out, 3).unwrap();
        assert_eq!(
            got,
            vec![
                Bytes::from_static(b"<rpc-reply/>"),
                Bytes::from_static(b"<ok/>")
            ]
        );
    }

    #[test]
    fn chunked_rejects_bad_headers() {
        for bad in [
            &b"\n#0\nx\n##\n"[..],
            b"\n#01\nx\n##\n",
            b"\n#x\n",
            b"<rpc/>",
            b"\n#4294967296\n",
            b"\n#12345678901\n",
            b"\n##x",
        ] {
            assert!(
                matches!(
                    decode_all(Framing::Chunked, bad, 64),
                    Err(FramingError::BadChunkHeader(_))
                ),
                "accepted {:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn limits_message_size() {
        let mut d = Decoder::new(8);
        d.set_framing(Framing::Chunked);
        let mut buf = BytesMut::from(&b"\n#5\n12345\n#5\n67890\n##\n"[..]);
        assert_eq!(d.decode(&mut buf), Err(FramingError::TooLarge(8)));
        let mut d = Decoder::new(8);
        let mut buf = BytesMut::from(&b"0123456789abcdef"[..]);
        assert_eq!(d.decode(&mut buf), Err(FramingError::TooLarge(8)));
    }
}
