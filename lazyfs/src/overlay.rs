//! One file's page cache: the bytes written since its last fsync, held in
//! memory over the durable bytes of the backing file.
//!
//! The backing file is never written until [`Overlay::sync`], so dropping an
//! overlay is exactly what a power loss does to a file's unsynced data.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Unsynced writes and size changes of one file.
#[derive(Debug)]
pub(crate) struct Overlay {
    /// Disjoint, non-adjacent extents of written bytes, by start offset.
    extents: BTreeMap<u64, Vec<u8>>,
    /// The file's size as readers see it.
    size: u64,
    /// The backing file's size: the durable size.
    durable: u64,
    /// Backing bytes at and past this offset are gone (a truncate since the
    /// last sync cut them off) and read as zeros. Never above `size` or
    /// `durable`.
    valid: u64,
}

impl Overlay {
    /// The overlay of a file whose durable size is `durable` and that has no
    /// unsynced change.
    pub(crate) fn clean(durable: u64) -> Self {
        Self {
            extents: BTreeMap::new(),
            size: durable,
            durable,
            valid: durable,
        }
    }

    /// The size readers see.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether anything differs from the backing file.
    pub(crate) fn is_dirty(&self) -> bool {
        !self.extents.is_empty() || self.size != self.durable || self.valid != self.durable
    }

    /// Records `data` written at `offset`, growing the file if it ends past
    /// the end.
    pub(crate) fn write(&mut self, offset: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = offset + data.len() as u64;
        // Merge with an extent that starts before and reaches `offset`.
        let (start, mut buf) = match self.extents.range(..=offset).next_back() {
            Some((&s, v)) if s + v.len() as u64 >= offset => {
                let mut v = self.extents.remove(&s).unwrap_or_default();
                let rel = usize::try_from(offset - s).unwrap_or(usize::MAX);
                if v.len() < rel + data.len() {
                    v.resize(rel + data.len(), 0);
                }
                v[rel..rel + data.len()].copy_from_slice(data);
                (s, v)
            }
            _ => (offset, data.to_vec()),
        };
        // Swallow the extents that start inside or right after the new bytes;
        // keep only their tails past the end.
        loop {
            let buf_end = start + buf.len() as u64;
            let Some((&s, _)) = self.extents.range(start + 1..=buf_end).next() else {
                break;
            };
            let v = self.extents.remove(&s).unwrap_or_default();
            let covered = usize::try_from(buf_end - s).unwrap_or(usize::MAX);
            if v.len() > covered {
                buf.extend_from_slice(&v[covered..]);
            }
        }
        self.extents.insert(start, buf);
        self.size = self.size.max(end);
    }

    /// Sets the size, as `ftruncate` does: bytes past a smaller size are
    /// gone, and a larger size reads as zeros past the old end.
    pub(crate) fn set_len(&mut self, size: u64) {
        if size < self.size {
            let tail: Vec<u64> = self.extents.range(size..).map(|(&s, _)| s).collect();
            for s in tail {
                self.extents.remove(&s);
            }
            if let Some((&s, v)) = self.extents.range_mut(..size).next_back() {
                let keep = usize::try_from(size - s).unwrap_or(usize::MAX);
                v.truncate(keep);
            }
            self.valid = self.valid.min(size);
        }
        self.size = size;
    }

    /// Reads up to `len` bytes at `offset`: the overlay's bytes where it has
    /// them, the backing file's below `valid`, zeros elsewhere.
    pub(crate) fn read(&self, backing: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if offset >= self.size {
            return Ok(Vec::new());
        }
        let end = self.size.min(offset + len as u64);
        let mut out = vec![0; usize::try_from(end - offset).unwrap_or(usize::MAX)];
        let from_backing = self.valid.min(end).saturating_sub(offset);
        if from_backing > 0 {
            read_fully_at(
                backing,
                &mut out[..usize::try_from(from_backing).unwrap_or(usize::MAX)],
                offset,
            )?;
        }
        // The extent that starts before `offset` may reach into the range.
        let first = self
            .extents
            .range(..=offset)
            .next_back()
            .map_or(offset, |(&s, _)| s);
        for (&s, v) in self.extents.range(first..end) {
            let e = s + v.len() as u64;
            let lo = s.max(offset);
            let hi = e.min(end);
            if lo < hi {
                let dst = usize::try_from(lo - offset).unwrap_or(usize::MAX);
                let src = usize::try_from(lo - s).unwrap_or(usize::MAX);
                let n = usize::try_from(hi - lo).unwrap_or(usize::MAX);
                out[dst..dst + n].copy_from_slice(&v[src..src + n]);
            }
        }
        Ok(out)
    }

    /// Makes the overlay durable: applies it to the backing file and empties
    /// it.
    pub(crate) fn sync(&mut self, backing: &File) -> io::Result<()> {
        if !self.is_dirty() {
            return Ok(());
        }
        if self.valid < self.durable {
            backing.set_len(self.valid)?;
        }
        if self.size != self.valid {
            backing.set_len(self.size)?;
        }
        for (&s, v) in &self.extents {
            backing.write_all_at(v, s)?;
        }
        self.extents.clear();
        self.durable = self.size;
        self.valid = self.size;
        Ok(())
    }
}

/// `pread` until `buf` is full; bytes past the backing file's end read as
/// zeros.
fn read_fully_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => {
                buf.fill(0);
                return Ok(());
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn backing(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn contents(o: &Overlay, f: &File) -> Vec<u8> {
        o.read(f, 0, 1 << 20).unwrap()
    }

    #[test]
    fn writes_show_over_the_backing_bytes_and_leave_them_untouched() {
        let f = backing(b"0123456789");
        let mut o = Overlay::clean(10);
        o.write(2, b"ab");
        o.write(8, b"xyz");
        assert_eq!(contents(&o, &f), b"01ab4567xyz");
        assert_eq!(o.read(&f, 3, 4).unwrap(), b"b456");
        assert_eq!(Overlay::clean(10).read(&f, 0, 10).unwrap(), b"0123456789");
    }

    #[test]
    fn overlapping_and_adjacent_writes_merge_newest_first() {
        let f = backing(b"");
        let mut o = Overlay::clean(0);
        o.write(4, b"4444");
        o.write(0, b"0000");
        o.write(10, b"aa");
        o.write(2, b"xxxxxxxxx");
        assert_eq!(contents(&o, &f), b"00xxxxxxxxxa");
        assert_eq!(o.extents.len(), 1);
    }

    #[test]
    fn a_truncate_hides_the_backing_bytes_past_it_even_after_regrowing() {
        let f = backing(b"0123456789");
        let mut o = Overlay::clean(10);
        o.write(3, b"abc");
        o.set_len(4);
        assert_eq!(contents(&o, &f), b"012a");
        o.write(8, b"Z");
        assert_eq!(contents(&o, &f), b"012a\0\0\0\0Z");
    }

    #[test]
    fn sync_writes_what_readers_saw_into_the_backing_file() {
        let f = backing(b"0123456789");
        let mut o = Overlay::clean(10);
        o.write(1, b"a");
        o.set_len(3);
        o.set_len(6);
        o.write(5, b"b");
        let seen = contents(&o, &f);
        o.sync(&f).unwrap();
        assert!(!o.is_dirty());
        assert_eq!(seen, b"0a2\0\0b");
        assert_eq!(Overlay::clean(6).read(&f, 0, 100).unwrap(), seen);
    }
}
