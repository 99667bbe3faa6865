//! A lazy, bounds-checked reader of FlatBuffers tables over the parts of a file fetched so far
//! ([`Spans`]). It reads only what it is asked for — a table's vtable and fields, a vector's length and
//! elements, a string — and never the weights. Where the bytes it needs have not been fetched yet it
//! answers [`Walk::Need`] with their range, and the caller fetches them and walks again; where the file
//! contradicts itself (an offset past the end, a vtable shorter than its header, a vector longer than
//! the file) it answers [`Walk::Bad`] with the reason. Field slots come from the code `flatc` generated
//! from the official schemas (`generated/`), so no slot number is written by hand.
//!
//! FlatBuffers offsets only point forward (`uoffset` is unsigned and added to its own position), except
//! a table's signed offset to its vtable, which is read but never followed further: a walk over a fixed
//! schema therefore cannot loop, and its cost is bounded by the element caps of the caller.

use std::ops::Range;

/// What a walk could not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walk {
    /// These bytes are needed and not fetched yet.
    Need(Range<u64>),
    /// The file is not a well-formed FlatBuffer here; why, in words.
    Bad(String),
}

pub type WalkResult<T> = Result<T, Walk>;

pub fn bad<T>(why: impl Into<String>) -> WalkResult<T> {
    Err(Walk::Bad(why.into()))
}

/// The fetched parts of a file of `size` bytes, as sorted, non-overlapping spans.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    size: u64,
    spans: Vec<(u64, Vec<u8>)>,
    /// Whether a walk should leave out what it can do without and does not hold yet (set when
    /// reading it would pass the read target, `super::read_target`).
    pub frugal: bool,
}

impl Spans {
    pub fn new(size: u64) -> Spans {
        Spans {
            size,
            spans: Vec::new(),
            frugal: false,
        }
    }

    /// A file held whole in memory.
    pub fn whole(bytes: Vec<u8>) -> Spans {
        Spans {
            size: bytes.len() as u64,
            spans: vec![(0, bytes)],
            frugal: false,
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes held, in total.
    pub fn held(&self) -> u64 {
        self.spans.iter().map(|(_, b)| b.len() as u64).sum()
    }

    /// Adds `bytes` read at `start`, merging with the spans it touches or overlaps.
    pub fn insert(&mut self, start: u64, bytes: Vec<u8>) {
        let end = start + bytes.len() as u64;
        let mut merged_start = start;
        let mut merged = bytes;
        let mut kept = Vec::with_capacity(self.spans.len() + 1);
        for (s, b) in std::mem::take(&mut self.spans) {
            let e = s + b.len() as u64;
            if e < merged_start || s > merged_start + merged.len() as u64 {
                kept.push((s, b));
                continue;
            }
            // Overlapping or adjacent: one span from the lower start to the higher end.
            let lo = s.min(merged_start);
            let hi = e.max(merged_start + merged.len() as u64).max(end);
            let mut joined = vec![0u8; (hi - lo) as usize];
            joined[(s - lo) as usize..(e - lo) as usize].copy_from_slice(&b);
            let m = (merged_start - lo) as usize;
            joined[m..m + merged.len()].copy_from_slice(&merged);
            merged_start = lo;
            merged = joined;
        }
        kept.push((merged_start, merged));
        kept.sort_by_key(|(s, _)| *s);
        self.spans = kept;
    }

    /// The parts of `range` not held yet, in order.
    pub fn missing(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut at = range.start;
        for (s, b) in &self.spans {
            let e = s + b.len() as u64;
            if e <= at {
                continue;
            }
            if *s >= range.end {
                break;
            }
            if *s > at {
                gaps.push(at..(*s).min(range.end));
            }
            at = at.max(e);
            if at >= range.end {
                break;
            }
        }
        if at < range.end {
            gaps.push(at..range.end);
        }
        gaps
    }

    /// `len` bytes at `at`: held, past the end of the file (bad), or needed.
    pub fn bytes(&self, at: u64, len: u64) -> WalkResult<&[u8]> {
        let end = at
            .checked_add(len)
            .filter(|e| *e <= self.size)
            .ok_or_else(|| {
                Walk::Bad(format!(
                    "{len} bytes at offset {at} run past the end of the file ({} bytes)",
                    self.size
                ))
            })?;
        let i = self.spans.partition_point(|(s, _)| *s <= at);
        if i > 0 {
            let (s, b) = &self.spans[i - 1];
            if end <= s + b.len() as u64 {
                return Ok(&b[(at - s) as usize..(end - s) as usize]);
            }
        }
        Err(Walk::Need(at..end))
    }

    fn array<const N: usize>(&self, at: u64) -> WalkResult<[u8; N]> {
        let b = self.bytes(at, N as u64)?;
        Ok(b.try_into().expect("length checked"))
    }

    pub fn u8(&self, at: u64) -> WalkResult<u8> {
        Ok(self.array::<1>(at)?[0])
    }
    pub fn u16(&self, at: u64) -> WalkResult<u16> {
        Ok(u16::from_le_bytes(self.array(at)?))
    }
    pub fn u32(&self, at: u64) -> WalkResult<u32> {
        Ok(u32::from_le_bytes(self.array(at)?))
    }
    pub fn i32(&self, at: u64) -> WalkResult<i32> {
        Ok(i32::from_le_bytes(self.array(at)?))
    }
    pub fn u64(&self, at: u64) -> WalkResult<u64> {
        Ok(u64::from_le_bytes(self.array(at)?))
    }
    pub fn i64(&self, at: u64) -> WalkResult<i64> {
        Ok(i64::from_le_bytes(self.array(at)?))
    }
    pub fn f32(&self, at: u64) -> WalkResult<f32> {
        Ok(f32::from_le_bytes(self.array(at)?))
    }

    /// The position a `uoffset` stored at `at` points to.
    pub fn follow(&self, at: u64) -> WalkResult<u64> {
        Ok(at + u64::from(self.u32(at)?))
    }

    /// The table whose root offset is at `at` (0 for a buffer's root).
    pub fn table_at(&self, at: u64) -> WalkResult<Table> {
        Table::read(self, self.follow(at)?)
    }
}

/// A table: where it is, and where its vtable says each field is.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub pos: u64,
    vtable: u64,
    vtable_len: u16,
    inline_len: u16,
}

impl Table {
    pub fn read(s: &Spans, pos: u64) -> WalkResult<Table> {
        let soffset = i64::from(s.i32(pos)?);
        let vtable = u64::try_from(pos as i64 - soffset)
            .map_err(|_| Walk::Bad(format!("the table at {pos} has its vtable before the file")))?;
        let vtable_len = s.u16(vtable)?;
        let inline_len = s.u16(vtable + 2)?;
        if vtable_len < 4 || vtable_len % 2 != 0 {
            return bad(format!("the vtable at {vtable} is {vtable_len} bytes long"));
        }
        if inline_len < 4 {
            return bad(format!("the table at {pos} is {inline_len} bytes long"));
        }
        s.bytes(vtable, u64::from(vtable_len))?;
        s.bytes(pos, u64::from(inline_len))?;
        Ok(Table {
            pos,
            vtable,
            vtable_len,
            inline_len,
        })
    }

    /// Where field `slot` (a generated `VT_…` constant) is stored, when present.
    pub fn field(&self, s: &Spans, slot: u16, width: u16) -> WalkResult<Option<u64>> {
        if slot + 2 > self.vtable_len {
            return Ok(None);
        }
        let at = s.u16(self.vtable + u64::from(slot))?;
        if at == 0 {
            return Ok(None);
        }
        if u32::from(at) + u32::from(width) > u32::from(self.inline_len) {
            return bad(format!(
                "a field of the table at {} lies outside its {} bytes",
                self.pos, self.inline_len
            ));
        }
        Ok(Some(self.pos + u64::from(at)))
    }

    pub fn u8_or(&self, s: &Spans, slot: u16, default: u8) -> WalkResult<u8> {
        self.field(s, slot, 1)?.map_or(Ok(default), |at| s.u8(at))
    }
    pub fn i8_or(&self, s: &Spans, slot: u16, default: i8) -> WalkResult<i8> {
        Ok(self.u8_or(s, slot, default as u8)? as i8)
    }
    pub fn u32_or(&self, s: &Spans, slot: u16, default: u32) -> WalkResult<u32> {
        self.field(s, slot, 4)?.map_or(Ok(default), |at| s.u32(at))
    }
    pub fn i32_or(&self, s: &Spans, slot: u16, default: i32) -> WalkResult<i32> {
        self.field(s, slot, 4)?.map_or(Ok(default), |at| s.i32(at))
    }
    pub fn u64_or(&self, s: &Spans, slot: u16, default: u64) -> WalkResult<u64> {
        self.field(s, slot, 8)?.map_or(Ok(default), |at| s.u64(at))
    }
    pub fn f32_or(&self, s: &Spans, slot: u16, default: f32) -> WalkResult<f32> {
        self.field(s, slot, 4)?.map_or(Ok(default), |at| s.f32(at))
    }

    /// The table field `slot` points to.
    pub fn table(&self, s: &Spans, slot: u16) -> WalkResult<Option<Table>> {
        match self.field(s, slot, 4)? {
            None => Ok(None),
            Some(at) => Ok(Some(Table::read(s, s.follow(at)?)?)),
        }
    }

    /// The vector field `slot` points to, its elements `elem` bytes wide, at most `cap` of them.
    pub fn vector(&self, s: &Spans, slot: u16, elem: u64, cap: u32) -> WalkResult<Option<Vector>> {
        match self.field(s, slot, 4)? {
            None => Ok(None),
            Some(at) => Vector::read(s, s.follow(at)?, elem, cap).map(Some),
        }
    }

    /// The string field `slot`, lossily decoded, at most `cap` bytes kept.
    pub fn string(&self, s: &Spans, slot: u16, cap: u32) -> WalkResult<Option<String>> {
        match self.field(s, slot, 4)? {
            None => Ok(None),
            Some(at) => string_at(s, s.follow(at)?, cap).map(Some),
        }
    }
}

/// A vector: where its elements start, how many, and how wide each is.
#[derive(Debug, Clone, Copy)]
pub struct Vector {
    pub start: u64,
    pub len: u32,
    elem: u64,
}

impl Vector {
    fn read(s: &Spans, pos: u64, elem: u64, cap: u32) -> WalkResult<Vector> {
        let len = s.u32(pos)?;
        let bytes = u64::from(len) * elem;
        if pos + 4 + bytes > s.size() {
            return bad(format!(
                "the vector at {pos} claims {len} elements, more than the file holds"
            ));
        }
        if len > cap {
            return bad(format!(
                "the vector at {pos} has {len} elements, more than the {cap} a model plausibly has"
            ));
        }
        Ok(Vector {
            start: pos + 4,
            len,
            elem,
        })
    }

    /// Where element `i` is.
    pub fn at(&self, i: u32) -> u64 {
        self.start + u64::from(i) * self.elem
    }

    /// The whole vector's bytes.
    pub fn bytes<'s>(&self, s: &'s Spans) -> WalkResult<&'s [u8]> {
        s.bytes(self.start, u64::from(self.len) * self.elem)
    }

    /// Element `i` of a vector of tables.
    pub fn table(&self, s: &Spans, i: u32) -> WalkResult<Table> {
        Table::read(s, s.follow(self.at(i))?)
    }

    /// Element `i` of a vector of strings.
    pub fn string(&self, s: &Spans, i: u32, cap: u32) -> WalkResult<String> {
        string_at(s, s.follow(self.at(i))?, cap)
    }

    pub fn i32s(&self, s: &Spans) -> WalkResult<Vec<i32>> {
        (0..self.len).map(|i| s.i32(self.at(i))).collect()
    }
    pub fn i64s(&self, s: &Spans) -> WalkResult<Vec<i64>> {
        (0..self.len).map(|i| s.i64(self.at(i))).collect()
    }
    pub fn f32s(&self, s: &Spans) -> WalkResult<Vec<f32>> {
        (0..self.len).map(|i| s.f32(self.at(i))).collect()
    }
}

fn string_at(s: &Spans, pos: u64, cap: u32) -> WalkResult<String> {
    let v = Vector::read(s, pos, 1, u32::MAX)?;
    let keep = v.len.min(cap);
    let bytes = s.bytes(v.start, u64::from(keep))?;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_merge_and_report_what_is_missing() {
        let mut s = Spans::new(100);
        s.insert(10, vec![1; 10]);
        s.insert(40, vec![2; 10]);
        assert_eq!(s.missing(0..60), vec![0..10, 20..40, 50..60]);
        s.insert(20, vec![3; 20]);
        assert_eq!(s.missing(0..60), vec![0..10, 50..60]);
        assert_eq!(s.held(), 40);
        assert_eq!(s.bytes(15, 30).unwrap().len(), 30);
        assert_eq!(s.bytes(5, 10), Err(Walk::Need(5..15)));
        assert!(matches!(s.bytes(95, 10), Err(Walk::Bad(_))));
        s.insert(15, vec![9; 2]);
        assert_eq!(s.bytes(14, 4).unwrap(), &[1, 9, 9, 1]);
    }
}
