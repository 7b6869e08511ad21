//! Length-prefixed frames over any byte stream.
//!
//! A frame is a big-endian `u32` length followed by that many bytes. The reader checks the
//! length against a cap before it allocates anything, and then reads the body in chunks, so a
//! peer that announces a large frame and sends little costs us only what it sent plus one chunk.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame either side may send: 16 MiB.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// How much of a frame's body is read (and allocated) at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Bytes in a frame's length prefix.
const PREFIX_LEN: usize = 4;

/// A frame that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The frame is larger than the cap.
    #[error("frame of {len} bytes exceeds the {cap}-byte cap")]
    Oversized {
        /// The frame's length, as announced or as given.
        len: u64,
        /// The largest length accepted.
        cap: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended after {got} of the frame's {expected} bytes")]
    Truncated {
        /// How many bytes the frame (or its length prefix) should have had.
        expected: usize,
        /// How many arrived before the stream ended.
        got: usize,
    },
    /// The stream itself failed.
    #[error("frame stream failed")]
    Io(#[from] std::io::Error),
}

/// Reads one frame of at most `cap` bytes.
///
/// Returns `Ok(None)` when the stream ends cleanly before a frame begins. A frame longer than
/// `cap` is refused as soon as its length prefix is read, before anything is allocated for it.
///
/// Not cancel-safe: dropping the future part-way through a frame loses the bytes read so far.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    cap: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut prefix = [0u8; PREFIX_LEN];
    let mut filled = 0;
    while filled < PREFIX_LEN {
        let n = r.read(&mut prefix[filled..]).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(FrameError::Truncated {
                expected: PREFIX_LEN,
                got: filled,
            });
        }
        filled += n;
    }

    let announced = u32::from_be_bytes(prefix);
    let oversized = FrameError::Oversized {
        len: u64::from(announced),
        cap,
    };
    let len = match usize::try_from(announced) {
        Ok(len) if len <= cap => len,
        _ => return Err(oversized),
    };

    let mut body = Vec::with_capacity(len.min(READ_CHUNK));
    while body.len() < len {
        let start = body.len();
        let want = (len - start).min(READ_CHUNK);
        body.resize(start + want, 0);
        let n = r.read(&mut body[start..]).await?;
        body.truncate(start + n);
        if n == 0 {
            return Err(FrameError::Truncated {
                expected: len,
                got: start,
            });
        }
    }
    Ok(Some(body))
}

/// Writes `payload` as one frame and flushes it.
///
/// Refuses a payload longer than [`MAX_FRAME`] without writing anything.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    payload: &[u8],
) -> Result<(), FrameError> {
    let len = match u32::try_from(payload.len()) {
        Ok(len) if payload.len() <= MAX_FRAME => len,
        _ => {
            return Err(FrameError::Oversized {
                len: payload.len() as u64,
                cap: MAX_FRAME,
            });
        }
    };
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(payload).await?;
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncWriteExt, duplex};

    use super::*;

    #[tokio::test]
    async fn frames_round_trip_in_order() {
        let (mut a, mut b) = duplex(1024);
        let payloads: Vec<Vec<u8>> = vec![b"hello".to_vec(), vec![7; 300_000], b"bye".to_vec()];
        let sent = payloads.clone();
        let writer = tokio::spawn(async move {
            for p in &sent {
                write_frame(&mut a, p).await?;
            }
            Ok::<_, FrameError>(())
        });
        for p in &payloads {
            let got = read_frame(&mut b, MAX_FRAME)
                .await
                .expect("read")
                .expect("frame");
            assert_eq!(&got, p);
        }
        writer.await.expect("join").expect("write");
        assert!(read_frame(&mut b, MAX_FRAME).await.expect("eof").is_none());
    }

    #[tokio::test]
    async fn zero_length_frame_is_an_empty_payload() {
        let (mut a, mut b) = duplex(64);
        write_frame(&mut a, &[]).await.expect("write");
        drop(a);
        assert_eq!(
            read_frame(&mut b, 16).await.expect("read"),
            Some(Vec::new())
        );
        assert!(read_frame(&mut b, 16).await.expect("eof").is_none());
    }

    #[tokio::test]
    async fn oversized_prefix_is_refused_before_the_body_arrives() {
        let (mut a, mut b) = duplex(64);
        // Only the prefix is sent and the writer stays open: a reader that tried to read or
        // allocate the body first would hang here instead of failing.
        a.write_all(&20_000_000u32.to_be_bytes())
            .await
            .expect("write");
        let err = read_frame(&mut b, MAX_FRAME).await.expect_err("oversized");
        assert!(matches!(
            err,
            FrameError::Oversized {
                len: 20_000_000,
                cap: MAX_FRAME
            }
        ));
        assert_eq!(
            err.to_string(),
            "frame of 20000000 bytes exceeds the 16777216-byte cap"
        );
    }

    #[tokio::test]
    async fn frame_over_a_small_cap_is_refused() {
        let (mut a, mut b) = duplex(64);
        write_frame(&mut a, b"0123456789").await.expect("write");
        let err = read_frame(&mut b, 9).await.expect_err("oversized");
        assert!(matches!(err, FrameError::Oversized { len: 10, cap: 9 }));
    }

    #[tokio::test]
    async fn announced_large_frame_with_a_short_body_is_truncated() {
        let (mut a, mut b) = duplex(64);
        a.write_all(&(MAX_FRAME as u32).to_be_bytes())
            .await
            .expect("write");
        a.write_all(&[1; 10]).await.expect("write");
        drop(a);
        let err = read_frame(&mut b, MAX_FRAME).await.expect_err("truncated");
        assert!(matches!(
            err,
            FrameError::Truncated {
                expected: MAX_FRAME,
                got: 10
            }
        ));
    }

    #[tokio::test]
    async fn eof_inside_the_prefix_is_truncated() {
        let (mut a, mut b) = duplex(64);
        a.write_all(&[0, 0]).await.expect("write");
        drop(a);
        let err = read_frame(&mut b, MAX_FRAME).await.expect_err("truncated");
        assert!(matches!(
            err,
            FrameError::Truncated {
                expected: 4,
                got: 2
            }
        ));
    }

    #[tokio::test]
    async fn clean_eof_before_a_frame_is_none() {
        let (a, mut b) = duplex(64);
        drop(a);
        assert!(read_frame(&mut b, MAX_FRAME).await.expect("eof").is_none());
    }

    #[tokio::test]
    async fn writing_more_than_the_cap_is_refused() {
        let (mut a, _b) = duplex(64);
        let err = write_frame(&mut a, &vec![0; MAX_FRAME + 1])
            .await
            .expect_err("oversized");
        assert!(matches!(err, FrameError::Oversized { cap: MAX_FRAME, .. }));
    }
}
