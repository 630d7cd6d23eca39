//! [`ByteSource`] over a file on disk, using positioned reads so that rules running in
//! parallel over one file never share a cursor.

use std::fs::File;
use std::os::unix::fs::FileExt;

use modelgate_formats::{ByteSource, SourceError};

/// A file opened for scanning; its length is fixed when opened.
pub(crate) struct FileSource {
    file: File,
    len: u64,
}

impl FileSource {
    pub(crate) fn new(file: File, len: u64) -> Self {
        FileSource { file, len }
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let len = buf.len() as u64;
        let fail = |reason: String| SourceError {
            offset,
            len,
            reason,
        };
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= self.len => {}
            _ => return Err(fail(format!("past the end of the {}-byte file", self.len))),
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| fail(e.to_string()))
    }
}
