//! AS_PATH and AS4_PATH (RFC 4271 4.3, RFC 5065 3, RFC 6793), and the merge
//! of the two on sessions with 2-octet AS numbers.

use bytes::{BufMut, BytesMut};

use crate::wire::reader::Reader;

/// The AS number that stands in for 4-octet ones where only 2 octets fit
/// (RFC 6793 9).
pub const AS_TRANS: u32 = 23456;

/// The most AS numbers one segment can hold: its count is one octet.
const MAX_SEGMENT_ASNS: usize = 255;

/// The kind of an AS path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentType {
    /// AS_SET: unordered, counts as one AS in the path length.
    Set,
    /// AS_SEQUENCE: ordered, nearest AS first.
    Sequence,
    /// AS_CONFED_SEQUENCE (RFC 5065): member ASes of our confederation.
    ConfedSequence,
    /// AS_CONFED_SET (RFC 5065).
    ConfedSet,
}

impl SegmentType {
    /// The type of a segment type octet, if defined.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(SegmentType::Set),
            2 => Some(SegmentType::Sequence),
            3 => Some(SegmentType::ConfedSequence),
            4 => Some(SegmentType::ConfedSet),
            _ => None,
        }
    }

    /// The segment type octet.
    pub fn code(self) -> u8 {
        match self {
            SegmentType::Set => 1,
            SegmentType::Sequence => 2,
            SegmentType::ConfedSequence => 3,
            SegmentType::ConfedSet => 4,
        }
    }

    /// Whether this is a confederation segment.
    pub fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }
}

/// One segment of an AS path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    /// The segment type.
    pub kind: SegmentType,
    /// The AS numbers, as 4-octet values whatever the session encodes.
    pub asns: Vec<u32>,
}

impl Segment {
    /// What this segment adds to the path length (RFC 4271 9.1.2.2,
    /// RFC 5065 5.3).
    fn length(&self) -> usize {
        match self.kind {
            SegmentType::Sequence => self.asns.len(),
            SegmentType::Set => usize::from(!self.asns.is_empty()),
            SegmentType::ConfedSequence | SegmentType::ConfedSet => 0,
        }
    }
}

/// Why an AS_PATH or AS4_PATH value is malformed (RFC 7606 7.2, RFC 6793 6,
/// RFC 7607 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AsPathError {
    /// A segment runs past the attribute, or the attribute ends inside a
    /// segment header.
    #[error("AS path segment truncated")]
    Truncated,
    /// A segment has no AS numbers.
    #[error("empty AS path segment")]
    EmptySegment,
    /// A segment type is undefined.
    #[error("unknown AS path segment type {0}")]
    UnknownSegmentType(u8),
    /// AS 0 appears (RFC 7607 2).
    #[error("AS 0 in AS path")]
    ZeroAsn,
    /// An AS_SET or AS_CONFED_SET segment, deprecated by RFC 9774.
    #[error("AS_SET or AS_CONFED_SET segment (RFC 9774)")]
    SetSegment,
}

/// An AS path: a list of segments, nearest AS first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    /// The segments in wire order.
    pub segments: Vec<Segment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE; empty when `asns` is.
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![Segment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// Whether the path has no AS numbers (a route from our own AS).
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|s| s.asns.is_empty())
    }

    /// The path length used in best-path selection (RFC 4271 9.1.2.2: an
    /// AS_SET counts one; RFC 5065 5.3: confederation segments count zero).
    pub fn length(&self) -> usize {
        self.segments.iter().map(Segment::length).sum()
    }

    /// The leftmost AS of an AS_SEQUENCE at the front, which RFC 4271 6.3
    /// asks to compare with the peer's AS on external sessions.
    pub fn first_as(&self) -> Option<u32> {
        let first = self.segments.first()?;
        match first.kind {
            SegmentType::Sequence => first.asns.first().copied(),
            _ => None,
        }
    }

    /// Rebuilds the 4-octet path from a 2-octet session's AS_PATH (`self`)
    /// and AS4_PATH (RFC 6793 4.2.3).
    ///
    /// If AS_PATH has fewer AS numbers than AS4_PATH, AS4_PATH is ignored.
    /// Otherwise as many leading AS numbers of AS_PATH as AS4_PATH lacks are
    /// put in front of AS4_PATH, so the result is as long as AS_PATH.
    /// Confederation segments of AS_PATH come along when they lead or
    /// adjoin what was taken; those in AS4_PATH are dropped (RFC 6793 6).
    pub fn merge_as4(&self, as4_path: &AsPath) -> AsPath {
        let as4 = as4_path.without_confed();
        let (len, len4) = (self.length(), as4.length());
        if len < len4 {
            return self.clone();
        }
        let mut wanted = len - len4;
        let mut segments = Vec::with_capacity(self.segments.len() + as4.segments.len());
        for seg in &self.segments {
            match seg.kind {
                SegmentType::ConfedSequence | SegmentType::ConfedSet => segments.push(seg.clone()),
                _ if wanted == 0 => break,
                SegmentType::Set => {
                    segments.push(seg.clone());
                    wanted -= seg.length();
                }
                SegmentType::Sequence => {
                    let take = wanted.min(seg.asns.len());
                    segments.push(Segment {
                        kind: SegmentType::Sequence,
                        asns: seg.asns.iter().take(take).copied().collect(),
                    });
                    wanted -= take;
                    if take < seg.asns.len() {
                        break;
                    }
                }
            }
        }
        for seg in as4.segments {
            match segments.last_mut() {
                Some(last)
                    if last.kind == SegmentType::Sequence && seg.kind == SegmentType::Sequence =>
                {
                    last.asns.extend(seg.asns);
                }
                _ => segments.push(seg),
            }
        }
        AsPath { segments }
    }

    /// The path without confederation segments, which AS4_PATH never
    /// carries (RFC 6793 3).
    pub(crate) fn without_confed(&self) -> AsPath {
        AsPath {
            segments: self
                .segments
                .iter()
                .filter(|s| !s.kind.is_confed())
                .cloned()
                .collect(),
        }
    }

    /// Whether a 2-octet session needs AS4_PATH to carry this path: some AS
    /// outside the confederation segments has no 2-octet form (RFC 6793 4.2.2).
    pub(crate) fn needs_as4_path(&self) -> bool {
        self.segments
            .iter()
            .filter(|s| !s.kind.is_confed())
            .any(|s| s.asns.iter().any(|&asn| asn > u32::from(u16::MAX)))
    }

    /// Reads an AS_PATH or AS4_PATH value with AS numbers of 4 or 2 octets.
    pub(crate) fn decode(value: &[u8], four_octet: bool) -> Result<AsPath, AsPathError> {
        let width = if four_octet { 4 } else { 2 };
        let mut r = Reader::new(value);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let code = r.u8().ok_or(AsPathError::Truncated)?;
            let count = r.u8().ok_or(AsPathError::Truncated)?;
            let kind = SegmentType::from_code(code).ok_or(AsPathError::UnknownSegmentType(code))?;
            if count == 0 {
                return Err(AsPathError::EmptySegment);
            }
            let raw = r
                .take(usize::from(count) * width)
                .ok_or(AsPathError::Truncated)?;
            let mut asns = Vec::with_capacity(usize::from(count));
            let mut field = Reader::new(raw);
            while let Some(asn) = if four_octet {
                field.u32()
            } else {
                field.u16().map(u32::from)
            } {
                if asn == 0 {
                    return Err(AsPathError::ZeroAsn);
                }
                asns.push(asn);
            }
            segments.push(Segment { kind, asns });
        }
        Ok(AsPath { segments })
    }

    /// Octets of the encoded value.
    pub(crate) fn encoded_len(&self, four_octet: bool) -> usize {
        let width = if four_octet { 4 } else { 2 };
        self.segments
            .iter()
            .map(|s| s.asns.len().div_ceil(MAX_SEGMENT_ASNS) * 2 + s.asns.len() * width)
            .sum()
    }

    /// Writes the value. AS numbers without a 2-octet form become AS_TRANS
    /// on 2-octet encodings; segments over 255 ASes are split, and empty
    /// ones are left out since RFC 7606 7.2 calls them malformed.
    pub(crate) fn encode(&self, four_octet: bool, out: &mut BytesMut) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(MAX_SEGMENT_ASNS) {
                out.put_u8(seg.kind.code());
                out.put_u8(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
                for &asn in chunk {
                    if four_octet {
                        out.put_u32(asn);
                    } else {
                        out.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS as u16));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(kind: SegmentType, asns: &[u32]) -> Segment {
        Segment {
            kind,
            asns: asns.to_vec(),
        }
    }

    fn path(segments: Vec<Segment>) -> AsPath {
        AsPath { segments }
    }

    #[test]
    fn rfc4271_two_octet_vector() {
        // AS_SEQUENCE of 65001 65002, then AS_SET of 100 200.
        let bytes = [2, 2, 0xfd, 0xe9, 0xfd, 0xea, 1, 2, 0, 100, 0, 200];
        let p = AsPath::decode(&bytes, false).unwrap();
        assert_eq!(
            p,
            path(vec![
                seg(SegmentType::Sequence, &[65001, 65002]),
                seg(SegmentType::Set, &[100, 200])
            ])
        );
        assert_eq!(p.length(), 3);
        assert_eq!(p.first_as(), Some(65001));
        let mut out = BytesMut::new();
        p.encode(false, &mut out);
        assert_eq!(&out[..], &bytes[..]);
        assert_eq!(p.encoded_len(false), bytes.len());
    }

    #[test]
    fn four_octet_round_trip_and_as_trans() {
        let p = AsPath::from_sequence([65001, 4_200_000_001, 3]);
        let mut four = BytesMut::new();
        p.encode(true, &mut four);
        assert_eq!(
            &four[..],
            [2, 3, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x01, 0, 0, 0, 3].as_slice()
        );
        assert_eq!(AsPath::decode(&four, true).unwrap(), p);
        let mut two = BytesMut::new();
        p.encode(false, &mut two);
        assert_eq!(&two[..], [2, 3, 0xfd, 0xe9, 0x5b, 0xa0, 0, 3].as_slice());
        assert!(p.needs_as4_path());
        assert!(!AsPath::from_sequence([1, 2]).needs_as4_path());
    }

    #[test]
    fn long_segments_are_split() {
        let p = AsPath::from_sequence(1..=300);
        let mut out = BytesMut::new();
        p.encode(true, &mut out);
        assert_eq!(out.len(), p.encoded_len(true));
        let back = AsPath::decode(&out, true).unwrap();
        assert_eq!(back.segments.len(), 2);
        assert_eq!(back.length(), 300);
    }

    #[test]
    fn rfc7606_malformed_paths() {
        assert_eq!(
            AsPath::decode(&[2, 0], false),
            Err(AsPathError::EmptySegment)
        );
        assert_eq!(
            AsPath::decode(&[5, 1, 0, 1], false),
            Err(AsPathError::UnknownSegmentType(5))
        );
        assert_eq!(
            AsPath::decode(&[2, 2, 0, 1], false),
            Err(AsPathError::Truncated)
        );
        assert_eq!(
            AsPath::decode(&[2, 1, 0, 1, 2], false),
            Err(AsPathError::Truncated)
        );
        assert_eq!(
            AsPath::decode(&[2, 1, 0, 0], false),
            Err(AsPathError::ZeroAsn)
        );
        assert_eq!(
            AsPath::decode(&[2, 1, 0, 5, 2], false),
            Err(AsPathError::Truncated)
        );
        assert_eq!(AsPath::decode(&[], true), Ok(AsPath::default()));
    }

    #[test]
    fn rfc6793_merge_takes_the_leading_part_of_as_path() {
        // A NEW speaker sent 65001 4200000001 65002; an OLD one prepended 100.
        let as_path = AsPath::from_sequence([100, 65001, AS_TRANS, 65002]);
        let as4_path = AsPath::from_sequence([65001, 4_200_000_001, 65002]);
        assert_eq!(
            as_path.merge_as4(&as4_path),
            AsPath::from_sequence([100, 65001, 4_200_000_001, 65002])
        );
    }

    #[test]
    fn rfc6793_merge_ignores_a_longer_as4_path() {
        let as_path = AsPath::from_sequence([AS_TRANS]);
        let as4_path = AsPath::from_sequence([1, 2]);
        assert_eq!(as_path.merge_as4(&as4_path), as_path);
    }

    #[test]
    fn rfc6793_merge_counts_sets_as_one_and_keeps_leading_confed() {
        let as_path = path(vec![
            seg(SegmentType::ConfedSequence, &[64512]),
            seg(SegmentType::Sequence, &[10, 11]),
            seg(SegmentType::Set, &[AS_TRANS, 7]),
        ]);
        let as4_path = path(vec![
            seg(SegmentType::ConfedSequence, &[99]), // dropped: never in AS4_PATH
            seg(SegmentType::Sequence, &[11]),
            seg(SegmentType::Set, &[4_200_000_000, 7]),
        ]);
        assert_eq!(
            as_path.merge_as4(&as4_path),
            path(vec![
                seg(SegmentType::ConfedSequence, &[64512]),
                seg(SegmentType::Sequence, &[10, 11]),
                seg(SegmentType::Set, &[4_200_000_000, 7]),
            ])
        );
    }

    #[test]
    fn rfc6793_merge_of_equal_lengths_is_the_as4_path() {
        let as_path = AsPath::from_sequence([AS_TRANS, AS_TRANS]);
        let as4_path = AsPath::from_sequence([4_200_000_001, 4_200_000_002]);
        assert_eq!(as_path.merge_as4(&as4_path), as4_path);
    }
}
